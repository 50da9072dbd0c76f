"""The schema version of a database: inspecting it, checking it, and upgrading it with Alembic.

The migrations ship inside the package (``db/migrations``) and Alembic is configured from code, so this works
from an installed wheel with no ``alembic.ini``. The revision is kept in its own table, ``VERSION_TABLE``, so the
store can share a database with other Alembic-managed schemas (Optuna's RDB storage uses ``alembic_version``).

``demo-search db upgrade`` calls :func:`upgrade`; ``Store.open`` calls :func:`ensure_current`, which creates the
schema in an empty database and refuses any other database that is not at the newest revision.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import URL, Connection, Engine, inspect, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from db.engine import WRITE, create_store_engine, display_url, parse_url, sqlite_file
from db.errors import DatabaseNotFoundError, SchemaVersionError, StoreError
from db.integrity import check_integrity
from db.transactions import connection_error, damage_error, store_error

logger = logging.getLogger(__name__)

VERSION_TABLE = "demo_search_schema_version"
BUNDLED_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
UPGRADE_COMMAND = "demo-search db upgrade"

_POSTGRES_MIGRATION_LOCK = 0x64656D6F  # pg_advisory_xact_lock key serialising concurrent upgrades ("demo")
_POSTGRES_MISSING_DATABASE = "3D000"  # SQLSTATE invalid_catalog_name


class SchemaState(StrEnum):
    """Where a database stands relative to this installation's migrations."""

    MISSING = "missing"  # the database does not exist (no SQLite file / no such PostgreSQL database)
    EMPTY = "empty"  # it exists and holds no tables: the schema can be created
    CURRENT = "current"  # at the newest revision
    OUTDATED = "outdated"  # at an older revision: run `demo-search db upgrade`
    NEWER = "newer"  # at a revision this installation does not know (written by a newer demo-search)
    FOREIGN = "foreign"  # holds tables but no demo-search revision: not a demo-search database


@dataclass(frozen=True)
class DatabaseInfo:
    """What :func:`inspect_database` found: the state, the revision stored (if any) and the newest one known."""

    url: str
    state: SchemaState
    revision: str | None
    head: str
    tables: tuple[str, ...] = ()

    def require_current(self) -> None:
        """Raise the error that explains why this database cannot be used as it is; return if it is current."""
        if self.state is SchemaState.CURRENT:
            return
        if self.state is SchemaState.MISSING:
            raise DatabaseNotFoundError(f"database {self.url} does not exist; run `{UPGRADE_COMMAND}` to create it")
        raise SchemaVersionError(self.problem())

    def problem(self) -> str:
        """One sentence on what is wrong with the schema and what to do; empty when it is current."""
        if self.state is SchemaState.CURRENT:
            return ""
        if self.state in (SchemaState.MISSING, SchemaState.EMPTY):
            return f"database {self.url} has no demo-search schema yet; run `{UPGRADE_COMMAND}` to create it"
        if self.state is SchemaState.OUTDATED:
            return (
                f"database {self.url} has schema revision {self.revision}, but this demo-search needs {self.head}; "
                f"run `{UPGRADE_COMMAND}` (with the same database URL) to migrate it"
            )
        if self.state is SchemaState.NEWER:
            return (
                f"database {self.url} has schema revision {self.revision}, which this demo-search does not know "
                f"(its newest is {self.head}); it was written by a newer demo-search: upgrade the demo-search package"
            )
        return (
            f"database {self.url} holds tables ({', '.join(self.tables)}) but no demo-search schema revision "
            f"(table {VERSION_TABLE}); it is not a demo-search database: point the database URL at an empty "
            "database or a new SQLite file"
        )


def alembic_config(migrations_dir: Path = BUNDLED_MIGRATIONS, url: URL | None = None) -> Config:
    """An Alembic ``Config`` for the store's migrations, built without an ini file.

    With ``url``, Alembic's own commands (e.g. ``command.revision(cfg, autogenerate=True)`` to write the next
    migration) can connect by themselves.
    """
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def head_revision(migrations_dir: Path = BUNDLED_MIGRATIONS) -> str:
    """The newest revision of the migrations in ``migrations_dir``."""
    head = ScriptDirectory.from_config(alembic_config(migrations_dir)).get_current_head()
    if head is None:
        raise StoreError(f"no migrations found in {migrations_dir}")
    return head


def inspect_database(url: str | URL, *, migrations_dir: Path = BUNDLED_MIGRATIONS) -> DatabaseInfo:
    """Where the database on ``url`` stands, found without creating or changing anything."""
    parsed = parse_url(url)
    head = head_revision(migrations_dir)
    path = sqlite_file(parsed)
    if path is not None and not path.is_file():
        return DatabaseInfo(display_url(parsed), SchemaState.MISSING, None, head)
    engine = create_store_engine(parsed, read_only=True)
    try:
        with engine.connect() as connection:
            return read_state(connection, display_url(parsed), migrations_dir)
    except OperationalError as exc:
        if _is_missing_postgres_database(exc):
            return DatabaseInfo(display_url(parsed), SchemaState.MISSING, None, head)
        raise connection_error(parsed, exc) from exc
    except SQLAlchemyError as exc:
        damaged = damage_error(exc, display_url(parsed))
        raise damaged or StoreError(f"cannot read the schema of database {display_url(parsed)}: {exc}") from exc
    finally:
        engine.dispose()


def current_revision(url: str | URL, *, migrations_dir: Path = BUNDLED_MIGRATIONS) -> str | None:
    """The schema revision stored in the database on ``url`` (``None``: no schema yet, or no database)."""
    return inspect_database(url, migrations_dir=migrations_dir).revision


def upgrade(url: str | URL, revision: str = "head", *, migrations_dir: Path = BUNDLED_MIGRATIONS) -> DatabaseInfo:
    """Migrate the database on ``url`` to ``revision`` (creating the schema, and a SQLite file, if needed).

    Refuses a database that is not demo-search's, that is newer than this installation, or that is damaged
    (:class:`DatabaseDamagedError`, before anything is written). Returns where the database stands afterwards.
    """
    parsed = parse_url(url)
    engine = create_store_engine(parsed)
    try:
        check_integrity(engine, parsed)
        before = state_of(engine, parsed, migrations_dir)
        if before.state in (SchemaState.FOREIGN, SchemaState.NEWER):
            raise SchemaVersionError(before.problem())
        try:
            migrate(engine, revision, migrations_dir)
        except SQLAlchemyError as exc:
            raise store_error(exc, f"upgrading the schema to revision {revision!r}", display_url(parsed)) from exc
        after = state_of(engine, parsed, migrations_dir)
    finally:
        engine.dispose()
    logger.info("database %s upgraded from %s to %s", after.url, before.revision or "nothing", after.revision)
    return after


def ensure_current(
    engine: Engine, url: URL, *, create: bool, migrations_dir: Path = BUNDLED_MIGRATIONS
) -> DatabaseInfo:
    """Check that the database of ``engine`` is at the newest revision; with ``create``, create it when empty."""
    info = state_of(engine, url, migrations_dir)
    if info.state is SchemaState.EMPTY and create:
        logger.info("creating the demo-search schema (revision %s) in %s", info.head, info.url)
        try:
            migrate(engine, "head", migrations_dir)
        except SQLAlchemyError as exc:
            raise store_error(exc, "creating the schema", info.url) from exc
        info = state_of(engine, url, migrations_dir)
    info.require_current()
    return info


def state_of(engine: Engine, url: URL, migrations_dir: Path) -> DatabaseInfo:
    """Where the database of ``engine`` stands (connection errors become :class:`StoreError`)."""
    try:
        with engine.connect() as connection:
            return read_state(connection, display_url(url), migrations_dir)
    except SQLAlchemyError as exc:
        raise connection_error(url, exc) from exc


def read_state(connection: Connection, url_text: str, migrations_dir: Path) -> DatabaseInfo:
    """Where the database behind ``connection`` stands relative to the migrations in ``migrations_dir``."""
    script = ScriptDirectory.from_config(alembic_config(migrations_dir))
    head = script.get_current_head() or ""
    tables = tuple(sorted(inspect(connection).get_table_names()))
    if VERSION_TABLE not in tables:
        state = SchemaState.FOREIGN if tables else SchemaState.EMPTY
        return DatabaseInfo(url_text, state, None, head, tables)
    revision = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()
    others = tuple(table for table in tables if table != VERSION_TABLE)
    if revision is None:
        state = SchemaState.FOREIGN if others else SchemaState.EMPTY
    elif revision == head:
        state = SchemaState.CURRENT
    elif _is_known(script, revision):
        state = SchemaState.OUTDATED
    else:
        state = SchemaState.NEWER
    return DatabaseInfo(url_text, state, revision, head, others)


def migrate(engine: Engine, revision: str, migrations_dir: Path) -> None:
    """Run Alembic's upgrade to ``revision`` in one transaction that concurrent upgrades wait for.

    SQLite: the transaction begins ``IMMEDIATE`` (taking the write lock), and foreign keys are off while it runs,
    as SQLite's own procedure for altering tables requires (a batch rebuild drops and recreates a table, which
    with foreign keys on would cascade-delete the rows that refer to it); they are checked before committing.
    PostgreSQL: a transaction-scoped advisory lock serialises concurrent upgrades.
    """
    config = alembic_config(migrations_dir)
    with _migration_connection(engine) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_MIGRATION_LOCK})
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, revision)
        except CommandError as exc:
            raise SchemaVersionError(f"cannot upgrade to revision {revision!r}: {exc}") from exc
        if connection.dialect.name == "sqlite":
            violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if violations:
                raise StoreError(f"the migration to {revision} left rows with broken references: {violations[:5]}")


@contextmanager
def _migration_connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        connection.execution_options(**{WRITE: True})
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # must happen outside a transaction, so on the driver's connection before SQLAlchemy's BEGIN
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            yield connection
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def _is_missing_postgres_database(exc: OperationalError) -> bool:
    """Whether connecting failed because the PostgreSQL database does not exist (psycopg reports a failed
    connection without a SQLSTATE, so the server's message is read too)."""
    if getattr(exc.orig, "sqlstate", None) == _POSTGRES_MISSING_DATABASE:
        return True
    return re.search(r'FATAL:\s+database ".*" does not exist', str(exc.orig)) is not None


def _is_known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False
