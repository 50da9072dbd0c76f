"""``demo-search run CONFIG`` and ``demo-search resume NAME``, with a rich progress bar (log lines off a terminal)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from demo_search.cli.console import console, err_console
from demo_search.cli.failures import engine_command
from demo_search.cli.options import AddressOption, ConfigArg, DbOption, ExportOutputOption, SetOption, WorkersOption
from demo_search.cli.report import ExportFormat, show_status, write_export
from demo_search.config import load_config, resolve_database_url, shortcut_overrides
from demo_search.search.cluster import RayOptions
from demo_search.search.driver import SearchOutcome
from demo_search.search.progress import LoggedProgress, ProgressSink

ON_INTERRUPT = "everything finished so far is stored; `demo-search resume` continues"


class RichProgress:
    """Renders the driver's progress: units done / total, tokens computed vs served from cache, ETA."""

    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("units · {task.fields[tokens]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err_console,
            transient=False,
        )
        self._task = None
        self._computed = 0
        self._cached = 0

    def __enter__(self) -> RichProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)

    def _tokens(self) -> str:
        total = self._computed + self._cached
        share = f" ({self._cached / total:.0%} cached)" if total else ""
        return f"tokens computed {self._computed:,} / from cache {self._cached:,}{share}"

    def step_started(self, step: int, units: int, pairs: int, stored: int) -> None:
        label = "base set" if step == 0 else f"step {step}"
        self._task = self._bar.add_task(label, total=units, tokens=self._tokens())

    def unit_done(self, computed_tokens: int, cached_tokens: int, ok: bool) -> None:
        self._computed += computed_tokens
        self._cached += cached_tokens
        if self._task is not None:
            self._bar.update(self._task, advance=1, tokens=self._tokens())

    def step_finished(self, step: int, summary: str) -> None:
        """The driver logs the step's summary line; nothing more to draw."""


def step_progress() -> AbstractContextManager[ProgressSink]:
    """A progress bar where stderr is a terminal; off one (a pipe, a Ray Job's log), a logged line every so often."""
    if err_console.is_terminal:
        return RichProgress()
    return nullcontext(LoggedProgress())


def _report(name: str, outcome: SearchOutcome) -> None:
    best = outcome.best
    console.print(
        f"[bold green]search {escape(name)} finished[/]: {escape(outcome.stop_reason)}; best set of "
        f"{len(best.candidate.demo_ids)} searched demonstration(s), "
        f"score {best.score.mean:.4f} ± {best.score.stderr:.4f}"
    )
    console.print(
        f"this run computed {outcome.pairs_computed} (set, prompt) pair(s), {outcome.computed_tokens:,} tokens "
        f"({outcome.cached_tokens:,} served from cache); {outcome.units_failed} unit(s) failed"
    )


def run(
    config_path: ConfigArg,
    overrides: SetOption = None,
    name: Annotated[str | None, typer.Option("--name", help="Search name (overrides the config).")] = None,
    db: DbOption = None,
    workers: WorkersOption = None,
    address: AddressOption = None,
    output: ExportOutputOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything and print the projected cost; run and store nothing.")
    ] = False,
) -> None:
    """Run a search (or continue it, if a search of that name exists with the same configuration)."""

    with engine_command(ON_INTERRUPT):
        config = load_config(config_path, [*(overrides or ()), *shortcut_overrides(name=name, db=db, workers=workers)])
        if dry_run:
            from demo_search.cli.validate import check_search

            check_search(config)
            console.print("dry run: nothing was run or stored")
            return
        from demo_search import pipeline

        with step_progress() as progress:
            outcome = pipeline.run(config, progress=progress, ray_options=RayOptions(address=address))
        _report(config.name, outcome)
        _after_run(config.name, config.database.url, output)


def resume(
    name: Annotated[str, typer.Argument(help="The search to continue.")],
    db: DbOption = None,
    address: AddressOption = None,
    output: ExportOutputOption = None,
) -> None:
    """Continue an interrupted search, evaluating only what is not stored yet."""

    with engine_command(ON_INTERRUPT):
        from demo_search import pipeline

        url = resolve_database_url(db)
        with step_progress() as progress:
            outcome = pipeline.resume(name, url, progress=progress, ray_options=RayOptions(address=address))
        _report(name, outcome)
        _after_run(name, url, output)


def _after_run(name: str, db_url: str, output: Path | None) -> None:
    show_status(name, db_url)
    if output is not None:
        write_export(name, db_url, output, ExportFormat.JSON)
