"""Schema versions: a new database is created at the newest revision; any other mismatch is a clear error."""

from __future__ import annotations

import hashlib
import shutil
import textwrap
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from store_testing import items

from db import (
    UPGRADE_COMMAND,
    Evaluation,
    SchemaState,
    SchemaVersionError,
    Store,
    current_revision,
    head_revision,
    inspect_database,
    upgrade,
)
from db.models import Base
from db.schema import BUNDLED_MIGRATIONS, VERSION_TABLE

STORE_TABLES = {"searches", "pool_items", "heldout_prompts", "step_candidates", "steps", "evaluations", "leases"}

NEXT_REVISION = '''
    """Test revision after the bundled head: adds a column by rebuilding `searches` (SQLite batch mode)."""
    import sqlalchemy as sa
    from alembic import op

    revision = "9999"
    down_revision = "{head}"
    branch_labels = None
    depends_on = None


    def _recreate():
        return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


    def upgrade():
        with op.batch_alter_table("searches", recreate=_recreate()) as batch:
            batch.add_column(sa.Column("note", sa.Text(), nullable=True))


    def downgrade():
        with op.batch_alter_table("searches", recreate=_recreate()) as batch:
            batch.drop_column("note")
'''


@pytest.fixture
def newer_migrations(tmp_path: Path) -> Path:
    """The bundled migrations plus one newer revision, as a later demo-search would ship them."""
    directory = tmp_path / "migrations"
    shutil.copytree(BUNDLED_MIGRATIONS, directory, ignore=shutil.ignore_patterns("__pycache__"))
    source = textwrap.dedent(NEXT_REVISION).format(head=head_revision())
    (directory / "versions" / "9999_add_search_note.py").write_text(source)
    return directory


def test_a_new_database_is_created_at_the_newest_revision(database_url: str) -> None:
    assert inspect_database(database_url).state in (SchemaState.MISSING, SchemaState.EMPTY)

    with Store.open(database_url) as store:
        assert store.schema_revision == head_revision()

    info = inspect_database(database_url)
    assert (info.state, info.revision, info.head) == (SchemaState.CURRENT, head_revision(), head_revision())
    assert STORE_TABLES <= set(info.tables)
    assert current_revision(database_url) == head_revision()


def test_the_models_match_what_the_migrations_create(store: Store, database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()

    assert differences == []


def test_an_older_revision_is_refused_naming_the_upgrade_command(database_url: str, newer_migrations: Path) -> None:
    with Store.open(database_url) as store:  # written by "this" version, at the bundled head
        store.create_search(
            "kept", config={"k": 1}, fingerprint="f", fingerprint_parts={}, heldout_prompts=items("prompt", 2)
        )
        store.record_evaluations("kept", [Evaluation("set-a", "prompt-0", 1.0), Evaluation("set-a", "prompt-1", 0.0)])

    with pytest.raises(SchemaVersionError) as refused:
        Store.open(database_url, migrations_dir=newer_migrations)  # opened by a newer demo-search

    message = str(refused.value)
    assert f"run `{UPGRADE_COMMAND}`" in message
    assert f"schema revision {head_revision()}, but this demo-search needs 9999" in message
    assert inspect_database(database_url, migrations_dir=newer_migrations).state is SchemaState.OUTDATED


def test_upgrade_migrates_an_older_database_and_keeps_its_rows(database_url: str, newer_migrations: Path) -> None:
    with Store.open(database_url) as store:
        store.create_search(
            "kept", config={"k": 1}, fingerprint="f", fingerprint_parts={}, heldout_prompts=items("prompt", 2)
        )
        store.record_evaluations("kept", [Evaluation("set-a", "prompt-0", 1.0)])
        store.acquire_lease("kept", "me", ttl_s=600)

    info = upgrade(database_url, migrations_dir=newer_migrations)

    assert (info.state, info.revision) == (SchemaState.CURRENT, "9999")
    with Store.open(database_url, migrations_dir=newer_migrations) as store:
        # rebuilding `searches` must not cascade-delete the rows that refer to it
        assert store.get_search("kept").config == {"k": 1}
        assert store.evaluated_pairs("kept", ["set-a"]) == {("set-a", "prompt-0")}
        assert [item.item_id for item in store.heldout_prompts("kept")] == ["prompt-0", "prompt-1"]
        assert store.lease_of("kept").owner == "me"
    assert upgrade(database_url, migrations_dir=newer_migrations).revision == "9999"  # nothing left to do


def test_a_newer_unknown_revision_is_refused(database_url: str, newer_migrations: Path) -> None:
    upgrade(database_url, migrations_dir=newer_migrations)

    with pytest.raises(SchemaVersionError, match="revision 9999, which this demo-search does not know"):
        Store.open(database_url)
    with pytest.raises(SchemaVersionError, match="upgrade the demo-search package"):
        upgrade(database_url)
    assert inspect_database(database_url).state is SchemaState.NEWER


def test_a_database_with_unrelated_tables_is_refused(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    engine.dispose()

    with pytest.raises(SchemaVersionError, match=r"holds tables \(invoices\) but no demo-search schema revision"):
        Store.open(database_url)
    with pytest.raises(SchemaVersionError, match="not a demo-search database"):
        upgrade(database_url)
    assert inspect_database(database_url).state is SchemaState.FOREIGN


def test_open_without_create_leaves_a_new_database_alone(database_url: str, backend: str) -> None:
    expected = "does not exist" if backend == "sqlite" else f"no demo-search schema yet; run `{UPGRADE_COMMAND}`"
    with pytest.raises(Exception, match=expected):
        Store.open(database_url, create=False)

    assert inspect_database(database_url).state in (SchemaState.MISSING, SchemaState.EMPTY)
    upgrade(database_url)
    with Store.open(database_url, create=False) as store:
        assert store.list_searches() == []


def test_inspecting_changes_nothing(database_url: str, backend: str, tmp_path: Path) -> None:
    inspect_database(database_url)
    if backend == "sqlite":
        assert list(tmp_path.iterdir()) == []  # no file created for a missing database
    with Store.open(database_url) as store:
        store.create_search("s", config={}, fingerprint="f", fingerprint_parts={})
    files_before = sorted(path.name for path in tmp_path.iterdir())
    digest_before = {name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in files_before}

    assert inspect_database(database_url).state is SchemaState.CURRENT

    files_after = sorted(path.name for path in tmp_path.iterdir())
    assert files_after == files_before
    assert {name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in files_after} == digest_before
