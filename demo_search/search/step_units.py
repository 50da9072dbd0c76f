"""A step's work units (one per candidate set, only the pairs not stored yet) and the evaluation rows a finished
unit is stored as."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from db import Evaluation as StoredEvaluation
from demo_search.scoring.base import Scorer
from demo_search.templates import PromptTemplate
from demo_search.types import HeldOutPrompt
from workers.decoding import DecodingParams
from workers.tree import PrefixTree, ScoreResult
from workers.units import UnitKind, UnitResult, WorkUnit


def candidate_units(
    tree: PrefixTree,
    *,
    step: int,
    skipped: Collection[str],
    stored: Collection[tuple[str, str]],
    kind: UnitKind,
    decoding: DecodingParams,
    wanted: Mapping[str, Collection[str]] | None = None,
) -> tuple[list[WorkUnit], dict[str, str]]:
    """One unit per branch of ``tree`` (a candidate set) not in ``skipped``, with the leaves whose (set, prompt)
    pair is not in ``stored``; unit id ``"<step>:<set key>"``. Returns the units and each unit's set key.

    ``wanted`` (racing: set key to the prompt ids it needs now) limits the units to those sets and leaves."""
    units = []
    set_keys: dict[str, str] = {}
    for branch in tree.branches:
        if branch.branch_id in skipped or (wanted is not None and branch.branch_id not in wanted):
            continue
        allowed = None if wanted is None else set(wanted[branch.branch_id])
        leaves = tuple(
            x for x in tree.leaves
            if (branch.branch_id, x.leaf_id) not in stored and (allowed is None or x.leaf_id in allowed)
        )
        if leaves:
            unit_id = f"{step}:{branch.branch_id}"
            set_keys[unit_id] = branch.branch_id
            params = decoding if kind == "generate" else None
            units.append(WorkUnit(unit_id, kind, PrefixTree(tree.prefix_ids, (branch,), leaves), params))
    return units, set_keys


def evaluation_rows(
    set_key: str,
    result: UnitResult,
    scorer: Scorer,
    template: PromptTemplate,
    prompts: Mapping[str, HeldOutPrompt],
) -> list[StoredEvaluation]:
    """The rows of a successful unit: each leaf scored by ``scorer`` (generations first cut into answers by
    ``template``), with its token counts."""
    if isinstance(result.result, ScoreResult):
        items = result.result.scores
    else:
        items = template.answers(result.result.generations)
    evaluations = scorer.evaluate(items, prompts)
    tokens = {item.leaf_id: item.tokens for item in items}
    return [
        StoredEvaluation(
            set_key=set_key,
            prompt_id=e.prompt_id,
            score=e.score,
            output=e.output,
            detail=dict(e.detail) or None,
            prompt_tokens=tokens[e.prompt_id].prompt_tokens,
            computed_tokens=tokens[e.prompt_id].computed_tokens,
            cached_tokens=tokens[e.prompt_id].cached_tokens,
            error=e.error,
        )
        for e in evaluations
    ]


__all__ = ["candidate_units", "evaluation_rows"]
