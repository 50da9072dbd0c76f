"""``demo-search status NAME`` and ``demo-search export NAME``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from db import StoreError
from demo_search.cli.console import console
from demo_search.cli.database import DbOption, fail, open_store
from demo_search.cli.tune import print_tuning_results
from demo_search.cli.validate import print_error
from demo_search.config import default_database_url
from demo_search.errors import DemoSearchError
from demo_search.export.document import build_export, export_to_urial

NameArg = Annotated[str, typer.Argument(help="The search name.", show_default=False)]


def print_trajectory(name: str, db_url: str) -> None:
    with open_store(db_url) as store:
        try:
            search = store.get_search(name)
            steps = store.steps(name)
            rows = [(s, store.candidates_of_step(name, s.step_index)) for s in steps]
            tuning = store.tuning_results(name)
        except StoreError as error:
            raise fail(error) from None
    console.print(f"[bold]{search.name}[/] — {search.status.value}; {len(steps)} step(s) recorded")
    table = Table(show_edge=False, pad_edge=False)
    for column in ("step", "chosen", "score ± SE", "n", "runner-up", "score", "tried"):
        ids = column in ("chosen", "runner-up")
        table.add_column(column, justify="left" if ids else "right", no_wrap=True, min_width=16 if ids else None)
    for step, candidates in rows:
        chosen = next((c for c in candidates if c.set_key == step.set_key), None)
        skipped = sum(1 for c in candidates if c.status.value == "skipped")
        failed = sum(1 for c in candidates if c.status.value == "failed")
        notes = ", ".join(f"{n} {what}" for n, what in ((skipped, "skipped"), (failed, "failed")) if n)
        table.add_row(
            str(step.step_index),
            step.item_id or "base set",
            f"{step.score:.4f}" + ("" if step.stderr is None else f" ± {step.stderr:.4f}"),
            str(chosen.n_scored if chosen else "-"),
            step.runner_up_item_id or "-",
            "-" if step.runner_up_score is None else f"{step.runner_up_score:.4f}",
            f"{len(candidates)}" + (f" ({notes})" if notes else ""),
        )
    console.print(table)
    print_tuning_results(tuning)


def write_export(name: str, db_url: str, output: Path, fmt: Literal["json", "urial"]) -> None:
    with open_store(db_url) as store:
        try:
            document = build_export(store, name)
        except StoreError as error:
            raise fail(error) from None
    text = export_to_urial(document) if fmt == "urial" else json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    console.print(f"exported search {name} ({fmt}) to [bold]{output}[/]")


def status(name: NameArg, db: DbOption = None) -> None:
    """Show a search's trajectory (per step the chosen demonstration, score ± SE and runner-up) and its tuning."""
    print_trajectory(name, db or default_database_url())


def export(
    name: NameArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write.")] = Path("best.json"),
    fmt: Annotated[str, typer.Option("--format", "-f", help="json (schema-validated) or urial (a prompt file).")] = "json",
    db: DbOption = None,
) -> None:
    """Export the best demonstration set of a search."""
    if fmt not in ("json", "urial"):
        console.print(f"[red]error:[/] --format must be json or urial, got {fmt!r}")
        raise typer.Exit(2)
    try:
        write_export(name, db or default_database_url(), output, fmt)  # type: ignore[arg-type]
    except DemoSearchError as error:
        print_error(error)
        raise typer.Exit(1) from None
