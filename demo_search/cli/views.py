"""How the CLI shows what is stored: a search's trajectory and its decoding-tuning results (``status``, ``run``,
``resume``, ``tune``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from db import Candidate, Search, SearchSummary, Step, TuningResult
from demo_search.cli.console import console
from demo_search.search.budget import judge_usd
from demo_search.search.candidates import Aggregate

PARAM_ORDER = ("temperature", "top_p", "top_k", "repetition_penalty", "max_tokens")


def print_spending(summary: SearchSummary) -> None:
    """What the search has spent over all its runs: evaluations, computed tokens and, when a judge scored it, the
    judge's tokens and their price."""
    line = f"spent: {summary.evaluations:,} evaluation(s), {summary.computed_tokens:,} token(s) computed"
    if summary.reused_evaluations:
        line += f" ({summary.reused_evaluations:,} evaluation(s) reused from the ledger)"
    read, written = summary.judge_prompt_tokens, summary.judge_completion_tokens
    if read or written:
        usd = judge_usd(summary.search.config, read, written)
        line += f"; judge: {read:,} token(s) read, {written:,} written" + ("" if usd is None else f", {usd:,.2f} USD")
    console.print(line, markup=False)


def print_trajectory(
    search: Search, rows: Sequence[tuple[Step, Sequence[Candidate]]], tests: Mapping[int, Aggregate] | None = None
) -> None:
    """Per step: the chosen demonstration, its score ± SE and n, the runner-up and how many candidates were tried;
    with a test split (``tests``: per step, the chosen set's test score), its test score ± SE and n beside."""
    console.print(f"[bold]{escape(search.name)}[/] — {search.status.value}; {len(rows)} step(s) recorded")
    table = Table(show_edge=False, pad_edge=False)
    test_columns = ("test ± SE", "test n") if tests else ()
    for column in ("step", "chosen", "score ± SE", "n", *test_columns, "runner-up", "score", "tried"):
        ids = column in ("chosen", "runner-up")
        table.add_column(column, justify="left" if ids else "right", no_wrap=True, min_width=16 if ids else None)
    for step, candidates in rows:
        chosen = next((c for c in candidates if c.set_key == step.set_key), None)
        skipped = sum(1 for c in candidates if c.status.value == "skipped")
        failed = sum(1 for c in candidates if c.status.value == "failed")
        eliminated = sum(1 for c in candidates if c.status.value == "eliminated")
        notes = ", ".join(
            f"{n} {what}" for n, what in ((skipped, "skipped"), (failed, "failed"), (eliminated, "eliminated")) if n
        )
        table.add_row(
            str(step.step_index),
            Text(step.item_id or "base set"),
            f"{step.score:.4f}" + ("" if step.stderr is None else f" ± {step.stderr:.4f}"),
            str(chosen.n_scored if chosen else "-"),
            *(_test_cells(tests.get(step.step_index)) if tests else ()),
            Text(step.runner_up_item_id or "-"),
            "-" if step.runner_up_score is None else f"{step.runner_up_score:.4f}",
            f"{len(candidates)}" + (f" ({notes})" if notes else ""),
        )
    console.print(table)
    raced = [step.racing for step, _ in rows if step.racing]
    if raced:
        paid, exhaustive = (sum(r[key] for r in raced) for key in ("evaluations", "exhaustive_evaluations"))
        console.print(
            f"racing: {len(raced)} step(s) raced; {paid} evaluations instead of {exhaustive} "
            f"({exhaustive - paid} saved, {exhaustive / max(paid, 1):.1f}x fewer)", markup=False,
        )


def _test_cells(score: Aggregate | None) -> tuple[str, str]:
    if score is None:
        return "-", "-"
    if not score.valid:
        return "failed", f"0 ({score.n_failed} failed)"
    return f"{score.mean:.4f} ± {score.stderr:.4f}", str(score.n)


def format_params(params: Mapping[str, object], names: Sequence[str] = PARAM_ORDER) -> str:
    """``temperature=0 top_p=0.9 ...`` for the parameters of ``names`` that ``params`` holds."""
    return " ".join(f"{name}={params[name]:g}" for name in names if name in params)


def print_tuning_results(results: Sequence[TuningResult]) -> None:
    """The tuning studies stored on a search (``demo-search status``); nothing when there are none."""
    for result in results:
        console.print(f"[bold]decoding tuning[/] study {escape(result.study_name)}: {result.n_trials} completed "
                      "trial(s)")
        own = "-" if result.baseline_score is None else f"{result.baseline_score:.4f}"
        console.print(f"  tuned        score {result.score:.4f}  {format_params(result.params)}", markup=False)
        console.print(f"  search's own score {own}", markup=False)
        importances = ", ".join(f"{name} {value:.2f}" for name, value in result.importances.items())
        console.print(f"  importances  {importances or '-'}", markup=False)


__all__ = ["PARAM_ORDER", "format_params", "print_trajectory", "print_tuning_results"]
