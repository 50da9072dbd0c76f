"""``demo-search db upgrade`` and ``demo-search list``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from db import Store, StoreError, upgrade
from demo_search.cli.console import console, err_console
from demo_search.config import default_database_url

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: $DEMO_SEARCH_DB, else sqlite:///./demo_search.db).", show_default=False),
]

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


def fail(error: Exception) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {error}")
    return typer.Exit(1)


def open_store(db: str | None, *, create: bool = False) -> Store:
    """Open the store on ``db`` (or the default URL); errors become a message and exit code 1."""
    try:
        return Store.open(db or default_database_url(), create=create)
    except StoreError as error:
        raise fail(error) from None


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Create the database schema or migrate it to this version's."""
    try:
        info = upgrade(db or default_database_url())
    except StoreError as error:
        raise fail(error) from None
    console.print(f"database {info.url} is at schema revision {info.revision}")


def list_searches(db: DbOption = None) -> None:
    """List the searches in the database, with status and progress."""
    with open_store(db) as store:
        summaries = store.list_searches()
    if not summaries:
        console.print(f"no searches in {store.url}")
        return
    table = Table(show_edge=False)
    for column in ("name", "status", "steps", "evaluations", "failed", "last score", "created", "updated"):
        table.add_column(column, justify="left" if column in ("name", "status") else "right")
    for s in summaries:
        score = "-" if s.last_step_score is None else f"{s.last_step_score:.4f}"
        table.add_row(
            s.search.name, s.search.status.value, str(s.steps_done), str(s.evaluations), str(s.failed_evaluations),
            score, f"{s.search.created_at:%Y-%m-%d %H:%M}", f"{s.search.updated_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)
