"""``demo-search db upgrade`` and ``demo-search list``; opening the store for every command that reads it."""

from __future__ import annotations

import sys

import typer
from rich.table import Table
from rich.text import Text

from db import Store, upgrade
from demo_search.cli.console import console
from demo_search.cli.failures import reported_failures
from demo_search.cli.json_views import list_document, to_json
from demo_search.cli.options import DbOption, JsonOption
from demo_search.config import resolve_database_url
from demo_search.search.budget import judge_usd

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


def open_store(db: str | None) -> Store:
    """The store on ``--db`` (else ``$DEMO_SEARCH_DB``, else the default URL), opened read-only for the reading
    commands (so they work on a database in a read-only directory and never write); it raises what the store
    raises."""
    return Store.open(resolve_database_url(db), read_only=True)


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Create the database schema or migrate it to this version's."""
    with reported_failures():
        info = upgrade(resolve_database_url(db))
    console.print(f"database {info.url} is at schema revision {info.revision}", markup=False)


def list_searches(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List the searches in the database, with status and progress."""
    with reported_failures(), open_store(db) as store:
        summaries = store.list_searches()
    if as_json:
        sys.stdout.write(to_json(list_document(store.url, summaries)))
        return
    if not summaries:
        console.print(f"no searches in {store.url}", markup=False)
        return
    judged = any(s.judge_prompt_tokens or s.judge_completion_tokens for s in summaries)
    table = Table(show_edge=False)
    columns = ["name", "status", "steps", "evaluations", "failed", "last score", "created", "updated"]
    for column in columns + (["judge tokens in / out", "judge USD"] if judged else []):
        table.add_column(column, justify="left" if column in ("name", "status") else "right")
    for s in summaries:
        score = "-" if s.last_step_score is None else f"{s.last_step_score:.4f}"
        cells = [
            Text(s.search.name), s.search.status.value, str(s.steps_done), str(s.evaluations),
            str(s.failed_evaluations), score, f"{s.search.created_at:%Y-%m-%d %H:%M}",
            f"{s.search.updated_at:%Y-%m-%d %H:%M}",
        ]
        if judged:
            usd = judge_usd(s.search.config, s.judge_prompt_tokens, s.judge_completion_tokens)
            tokens = f"{s.judge_prompt_tokens:,} / {s.judge_completion_tokens:,}"
            cells += [tokens, "-" if usd is None else f"{usd:,.2f}"]
        table.add_row(*cells)
    console.print(table)
