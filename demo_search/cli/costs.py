"""The projected cost of a search as a table (``validate`` and ``run --dry-run``)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from demo_search.assembly import build_strategy
from demo_search.config import SearchConfig
from demo_search.search.problem import SearchProblem
from demo_search.search.projection import JudgeSettings, Projection, StepCost, project_search


def projected_cost(config: SearchConfig, problem: SearchProblem, skipped_items: Sequence[str]) -> Projection:
    """The projection of ``config``'s search (see :mod:`demo_search.search.projection`)."""
    judge = config.scorer.judge
    return project_search(
        problem, build_strategy(config.strategy, config.seed), max_steps=config.strategy.max_steps,
        with_targets=not config.scorer.generates, max_new_tokens=config.decoding.max_tokens,
        skipped_items=skipped_items,
        judge=JudgeSettings(judge.max_tokens, judge.price) if config.scorer.kind == "judge" else None,
    )


def raced_floor(config: SearchConfig, projection: Projection) -> Projection | None:
    """With ``strategy.racing`` on, the least each step can cost (the first round alone, the leaders on every
    prompt); ``None`` when the search does not race."""
    racing = config.strategy.racing
    if not racing.enabled:
        return None
    return projection.raced_floor(first_prompts=racing.first_prompts, leaders=config.strategy.beam_width)


def projection_table(
    projection: Projection, *, judged: bool, generates: bool, raced: Projection | None = None
) -> Table:
    """One row per step and a total; columns for generated tokens and the judge only when the search has them, and
    with racing (``raced``: the least each step can cost) the evaluations and dollars at that least."""
    priced = projection.total.usd is not None
    title = "projected cost (token estimates; generated and judge figures are upper bounds)"
    table = Table(title=title, show_edge=False)
    columns = ["step", "candidates", "evaluations", "prompt tokens (trie)", "prompt tokens (naive)"]
    columns += ["generated tokens ≤"] if generates else []
    columns += ["judge calls", "judge tokens in ≤", "judge tokens out ≤"] if judged else []
    columns += ["cost ≤ (USD)"] if priced else []
    columns += ["raced: evaluations ≥"] + (["raced: cost ≥ (USD)"] if priced else []) if raced else []
    for column in columns:
        table.add_column(column, justify="right", overflow="fold")

    def row(label: str, cost: StepCost, floor: StepCost | None) -> list[str]:
        counts = [cost.candidates, cost.evaluations, cost.trie_tokens, cost.naive_tokens]
        counts += [cost.generated_tokens] if generates else []
        counts += [cost.judge_calls, cost.judge_input_tokens, cost.judge_output_tokens] if judged else []
        cells = [label, *(f"{count:,}" for count in counts)]
        cells += [f"{cost.usd:,.2f}"] if priced else []
        if floor is not None:
            cells += [f"{floor.evaluations:,}"] + ([f"{floor.usd:,.2f}"] if priced else [])
        return cells

    floors = raced.steps if raced else (None,) * len(projection.steps)
    for cost, floor in zip(projection.steps, floors, strict=True):
        table.add_row(*row("base" if cost.step == 0 else str(cost.step), cost, floor))
    table.add_row(*row("total", projection.total, raced.total if raced else None), style="bold")
    return table
