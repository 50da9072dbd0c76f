"""Alembic environment of the store's migrations.

Configured from code, not from an ini file (so it works from an installed wheel): :mod:`db.schema` builds the
Alembic ``Config`` and passes an open connection, already inside the transaction (and holding the lock) in which
the migration must run, as ``config.attributes["connection"]``. Without one (``alembic`` run by hand on a Config
with ``sqlalchemy.url`` set, e.g. to autogenerate a revision) an engine is created from that URL.

Migrations that alter tables use batch mode on SQLite (``render_as_batch``), which rebuilds the table.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from db.models import Base
from db.schema import VERSION_TABLE

config = context.config


def _is_ours(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate compares only the store's tables: others sharing the database (Optuna's) are left alone."""
    return type_ != "table" or name in Base.metadata.tables


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    dialect = connection.dialect.name if connection is not None else (url or "").split(":", 1)[0]
    context.configure(
        connection=connection,
        url=url,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        include_name=_is_ours,
        render_as_batch=dialect.startswith("sqlite"),
        literal_binds=connection is None,
    )


def run_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url"))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        _configure(connection=given)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url", ""), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
