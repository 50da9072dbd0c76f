"""``demo-search status NAME`` and ``demo-search export NAME``."""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from demo_search.cli.console import console
from demo_search.cli.database import open_store
from demo_search.cli.failures import reported_failures
from demo_search.cli.json_views import status_document, to_json
from demo_search.cli.options import DbOption, JsonOption, NameArg
from demo_search.cli.views import print_spending, print_trajectory, print_tuning_results
from demo_search.exports.stored import export_document
from demo_search.exports.writers import EXPORT_WRITERS, render_export
from demo_search.exports.writing import write_atomically
from demo_search.split_scores import stored_test_scores

logger = logging.getLogger(__name__)

STDOUT = "-"
"""The ``--output`` that means standard output."""

ExportFormat = StrEnum("ExportFormat", {fmt.upper(): fmt for fmt in EXPORT_WRITERS})  # type: ignore[misc]
"""What ``export --format`` accepts: one member per writer of :data:`~demo_search.exports.writers.EXPORT_WRITERS`
(``ExportFormat.JSON``, ``ExportFormat.URIAL``, ...), so a bad value is a usage error naming the choices."""


def show_status(name: str, db: str | None, *, as_json: bool = False) -> None:
    """Print search ``name``'s trajectory and its tuning results: as tables, or as one JSON document."""
    with open_store(db) as store:
        search = store.get_search(name)
        rows = [(step, store.candidates_of_step(name, step.step_index)) for step in store.steps(name)]
        tuning = store.tuning_results(name)
        tests = stored_test_scores(store, name)
        summary = store.search_summary(name)
        url = store.url
    if as_json:
        sys.stdout.write(to_json(status_document(url, summary, rows, tuning)))
        return
    print_trajectory(search, rows, tests)
    print_spending(summary)
    print_tuning_results(tuning)


def write_export(name: str, db: str | None, output: Path, fmt: ExportFormat) -> None:
    """Export search ``name``'s best set (with its stored tuning) to ``output``, all at once or not at all; an
    ``output`` of ``-`` writes it to stdout (and nothing else)."""
    with open_store(db) as store:
        document = export_document(store, name)
    text = render_export(document, fmt.value)
    if str(output) == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        logger.info("exported search %s (%s) to stdout", name, fmt.value)
        return
    write_atomically(output, text)
    console.print(f"exported search {escape(name)} ({fmt.value}) to [bold]{escape(str(output))}[/]")


def status(
    name: NameArg,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a search's trajectory (per step the chosen demonstration, score ± SE and runner-up) and its tuning."""
    with reported_failures():
        show_status(name, db, as_json=as_json)


def export(
    name: NameArg,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write; - writes to stdout (nothing else goes there).")
    ] = Path("best.json"),
    fmt: Annotated[ExportFormat, typer.Option(
        "--format", "-f", help="json (schema-validated), urial (a prompt file) or messages (chat messages)."
    )] = ExportFormat.JSON,
    db: DbOption = None,
) -> None:
    """Export the best demonstration set of a search."""
    with reported_failures():
        write_export(name, db, output, fmt)
