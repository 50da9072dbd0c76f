"""``demo-search evaluate PROMPT... --on FILE --config CONFIG``: score exports, URIAL prompt files or the base
prompt on one prompt set, and print mean ± SE per prompt and the paired differences (or ``--json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from demo_search.cli.console import console
from demo_search.cli.failures import engine_command
from demo_search.cli.options import AddressOption, SetOption, WorkersOption
from demo_search.config import load_config, shortcut_overrides
from demo_search.evaluation.report import EvaluationReport
from demo_search.search.cluster import RayOptions


def evaluate(
    prompts: Annotated[list[str], typer.Argument(
        help="The prompts to compare: export JSON files, URIAL prompt files, or base (the config's rules and fixed "
        "demonstrations).", show_default=False,
    )],
    on: Annotated[Path, typer.Option("--on", help="The prompt set to score them on (any held-out format).")],
    config_path: Annotated[Path, typer.Option(
        "--config", "-c", help="A search configuration: its model, engine, template, scorer and decoding are used."
    )],
    scorer: Annotated[str | None, typer.Option("--scorer", help="Score with this scorer.kind instead.")] = None,
    overrides: SetOption = None,
    workers: WorkersOption = None,
    address: AddressOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Score prompts on a prompt set: mean ± SE per prompt and paired differences with confidence intervals."""
    with engine_command("nothing is stored; run it again"):
        extra = [f"scorer.kind={scorer}"] if scorer else []
        config = load_config(config_path, [*(overrides or ()), *extra, *shortcut_overrides(workers=workers)])
        from demo_search.evaluation.evaluate import evaluate as run_evaluation

        report = run_evaluation(config, prompts, on=on, ray_options=RayOptions(address=address))
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        print_report(report)


def print_report(report: EvaluationReport) -> None:
    """The prompts' scores, then the paired differences, as two tables."""
    console.print(f"[bold]{report.prompts_file}[/]: {len(report.prompt_ids)} prompt(s), scorer {report.scorer}")
    scores = Table(show_edge=False, pad_edge=False)
    for column in ("prompt", "demos", "mean ± SE", "n", "failed"):
        scores.add_column(column, justify="left" if column == "prompt" else "right", no_wrap=True)
    for result in report.results:
        shown = "-" if result.mean is None else f"{result.mean:.4f} ± {result.stderr:.4f}"
        scores.add_row(result.label, str(result.demonstrations), shown, str(result.n),
                       str(result.n_failed) + (f" ({result.not_scored})" if result.not_scored else ""))
    console.print(scores)
    if not report.differences:
        return
    level = f"{report.confidence:.0%} CI"
    differences = Table(show_edge=False, pad_edge=False)
    for column in ("difference", "mean ± SE", level, "n"):
        differences.add_column(column, justify="left" if column == "difference" else "right", no_wrap=True)
    for row in report.differences:
        mean = "-" if row.mean is None else f"{row.mean:+.4f}" + ("" if row.stderr is None else f" ± {row.stderr:.4f}")
        interval = "-" if row.ci_low is None else f"[{row.ci_low:+.4f}, {row.ci_high:+.4f}]"
        differences.add_row(f"{row.second} − {row.first}", mean, interval, str(row.n))
    console.print(differences)


__all__ = ["evaluate", "print_report"]
