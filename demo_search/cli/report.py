"""``demo-search status NAME`` and ``demo-search export NAME``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from demo_search.cli.console import console
from demo_search.cli.database import open_store
from demo_search.cli.failures import reported_failures
from demo_search.cli.options import DbOption, NameArg
from demo_search.cli.views import print_trajectory, print_tuning_results
from demo_search.exports.stored import export_document
from demo_search.exports.writers import render_export
from demo_search.exports.writing import write_atomically

ExportFormat = Literal["json", "urial", "messages"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("json", "urial", "messages")
EXIT_USAGE = 2


def show_status(name: str, db: str | None) -> None:
    """Print search ``name``'s trajectory and its tuning results."""
    with open_store(db) as store:
        search = store.get_search(name)
        rows = [(step, store.candidates_of_step(name, step.step_index)) for step in store.steps(name)]
        tuning = store.tuning_results(name)
    print_trajectory(search, rows)
    print_tuning_results(tuning)


def write_export(name: str, db: str | None, output: Path, fmt: ExportFormat) -> None:
    """Export search ``name``'s best set (with its stored tuning) to ``output``, all at once or not at all."""
    with open_store(db) as store:
        document = export_document(store, name)
    write_atomically(output, render_export(document, fmt))
    console.print(f"exported search {name} ({fmt}) to [bold]{output}[/]")


def status(name: NameArg, db: DbOption = None) -> None:
    """Show a search's trajectory (per step the chosen demonstration, score ± SE and runner-up) and its tuning."""
    with reported_failures():
        show_status(name, db)


def export(
    name: NameArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write.")] = Path("best.json"),
    fmt: Annotated[str, typer.Option(
        "--format", "-f", help="json (schema-validated), urial (a prompt file) or messages (chat messages)."
    )] = "json",
    db: DbOption = None,
) -> None:
    """Export the best demonstration set of a search."""
    if fmt not in EXPORT_FORMATS:
        console.print(f"[red]error:[/] --format must be json, urial or messages, got {fmt!r}")
        raise typer.Exit(EXIT_USAGE)
    with reported_failures():
        write_export(name, db, output, fmt)  # type: ignore[arg-type]
