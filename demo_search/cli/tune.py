"""``demo-search tune NAME``: tune the decoding parameters of a search's best set, with a progress bar."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from demo_search.cli.console import console, err_console
from demo_search.cli.failures import engine_command, print_error
from demo_search.cli.options import AddressOption, DbOption, SetOption
from demo_search.cli.views import format_params
from demo_search.config import resolve_database_url
from demo_search.search.cluster import RayOptions

if TYPE_CHECKING:
    from demo_search.tuning.objective import TrialScore
    from demo_search.tuning.tuner import TuningOutcome

EXIT_DECODING_IRRELEVANT = 2
"""Exit code of ``tune`` on a search whose scorer does not generate (``loglik``): nothing to tune."""


class RichTuningProgress:
    """Completed trials of the study / the number it ends with, the best score so far, elapsed time and ETA."""

    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("trials · best {task.fields[best]} · {task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err_console,
        )
        self._task = None
        self._best: float | None = None
        self._failed = 0

    def __enter__(self) -> RichTuningProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)

    def started(self, study_name: str, n_trials: int, completed: int) -> None:
        self._task = self._bar.add_task("tuning", total=n_trials, completed=min(completed, n_trials), best="-",
                                        failed=0)

    def trial_finished(self, number: int, score: TrialScore, params: Mapping[str, float | int]) -> None:
        if self._task is None:
            return
        if score.valid:
            self._best = score.aggregate.mean if self._best is None else max(self._best, score.aggregate.mean)
            self._bar.update(self._task, advance=1, best=f"{self._best:.4f}")
        else:
            self._failed += 1
            self._bar.update(self._task, failed=self._failed)


def print_outcome(outcome: TuningOutcome) -> None:
    """The study's best parameters against the search's own, and the parameter importances."""
    best, baseline = outcome.best, outcome.baseline
    rerun = f", {len(outcome.interrupted)} left running by a dead driver re-run" if outcome.interrupted else ""
    console.print(f"[bold green]tuned[/] {outcome.origin}: study {outcome.study_name}, {outcome.completed} completed "
                  f"trial(s) ({outcome.trials_run} run now, {outcome.trials_failed} failed{rerun})")
    for label, trial in (("best", best), ("search's own", baseline)):
        if trial is None:
            continue
        error = "" if trial.stderr is None else f" ± {trial.stderr:.4f}"
        params = format_params(dataclasses.asdict(trial.decoding))
        console.print(f"  {label:<12} score {trial.score:.4f}{error} (trial {trial.number})  {params}", markup=False)
    if baseline is not None:
        console.print(f"  improvement  {best.score - baseline.score:+.4f}", markup=False)
    if outcome.trials_run:
        total = outcome.computed_tokens + outcome.cached_tokens
        console.print(f"  tokens       computed {outcome.computed_tokens:,}, from cache {outcome.cached_tokens:,} "
                      f"({outcome.cached_tokens / max(total, 1):.0%} cached)", markup=False)
    importances = outcome.importances
    shown = ", ".join(f"{name} {value:.2f}" for name, value in importances.values.items())
    note = f" ({importances.note})" if importances.note and shown else ""
    console.print(f"  importances  {shown + note if shown else 'none: ' + (importances.note or '')}", markup=False)


def tune(
    name: Annotated[str, typer.Argument(help="The search whose best set is tuned for.", show_default=False)],
    db: DbOption = None,
    from_export: Annotated[
        Path | None,
        typer.Option("--from-export", help="Tune for the demonstrations of this export JSON instead.", exists=True,
                     dir_okay=False),
    ] = None,
    trials: Annotated[
        int | None, typer.Option("--trials", min=1, help="Completed trials the study ends with (tuning.n_trials).")
    ] = None,
    parallel: Annotated[
        int | None, typer.Option("--parallel", min=1, help="Trials evaluated at once (tuning.parallel_trials).")
    ] = None,
    overrides: SetOption = None,
    address: AddressOption = None,
) -> None:
    """Tune temperature, top_p and repetition penalty (and optionally top_k, max_tokens) on the held-out prompts.

    The study lives in the search's database; run the command again to continue an interrupted one, or with a
    larger --trials to extend it. The best parameters are stored on the search (status, export).
    """
    from demo_search.tuning.errors import DecodingIrrelevantError
    from demo_search.tuning.session import tune_search

    keys = [*(overrides or ())]
    if trials is not None:
        keys.append(f"tuning.n_trials={trials}")
    if parallel is not None:
        keys.append(f"tuning.parallel_trials={parallel}")
    with engine_command(f"completed trials are stored; `demo-search tune {name}` continues"):
        try:
            with RichTuningProgress() as progress:
                outcome = tune_search(
                    name, resolve_database_url(db), overrides=keys, from_export=from_export, progress=progress,
                    ray_options=RayOptions(address=address),
                )
        except DecodingIrrelevantError as error:
            print_error(error)
            raise typer.Exit(EXIT_DECODING_IRRELEVANT) from None
    print_outcome(outcome)
