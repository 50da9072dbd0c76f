"""``demo_search.load`` and ``demo_search.export``: reading a stored search, as typed values or as its export.

Both open the store read-only and need none of the engine packages (torch, transformers, Ray).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import MappingProxyType
from typing import Any

from db import Candidate, Evaluation, Step, Store
from demo_search.api.records import (
    CandidateResult,
    Candidates,
    Evaluations,
    PromptEvaluation,
    SearchResult,
    Trajectory,
    TrajectoryStep,
)
from demo_search.config import resolve_database_url
from demo_search.exports import ExportDocument
from demo_search.exports.stored import export_document
from demo_search.exports.writing import write_atomically
from demo_search.types import Demonstration, HeldOutPrompt


def load(name: str, *, db: str | None = None) -> SearchResult:
    """The stored search ``name`` with its trajectory, candidates and per-prompt evaluations.

    ``db`` is the database URL (else ``$DEMO_SEARCH_DB``, else ``sqlite:///./demo_search.db``, as for every
    command). Raises ``db.SearchNotFoundError`` for an unknown name and the store's errors for a database it
    cannot read."""
    with Store.open(resolve_database_url(db), read_only=True) as store:
        search = store.get_search(name)
        steps = {step.step_index: step for step in store.steps(name)}
        tried = _candidates_by_step(store, name)
        step_candidates = [(step, tried.get(index, [])) for index, step in steps.items()]
        evaluated = _evaluated_sets(tried)
        stored = {key: store.evaluations_for(name, key) for _, key, _ in evaluated}
        pool = {item.item_id: Demonstration.from_payload(item.payload) for item in store.pool_items(name)}
        prompts = {item.item_id: HeldOutPrompt.from_payload(item.payload) for item in store.heldout_prompts(name)}
    return SearchResult(
        name=search.name,
        status=search.status.value,
        stop_reason=search.stop_reason,
        config=MappingProxyType(dict(search.config)),
        created_at=search.created_at,
        updated_at=search.updated_at,
        finished_at=search.finished_at,
        trajectory=Trajectory(tuple(_trajectory_step(step, candidates, pool) for step, candidates in step_candidates)),
        candidates=Candidates(tuple(
            _candidate(candidate, steps.get(index)) for index, candidates in tried.items() for candidate in candidates
        )),
        evaluations=Evaluations(tuple(
            _evaluation(row, step_index, added, prompts)
            for step_index, key, added in evaluated for row in stored[key]
        )),
        pool=MappingProxyType(pool),
        prompts=MappingProxyType(prompts),
    )


def export(name: str, *, db: str | None = None, path: str | os.PathLike[str] | None = None) -> ExportDocument:
    """The export document of search ``name`` (its best set, with its tuned decoding if any), as
    ``demo-search export`` writes it; written as JSON to ``path`` too when one is given (all at once or not at
    all). ``export_to_urial(document)`` (``demo_search.exports``) renders it as a URIAL prompt file."""
    with Store.open(resolve_database_url(db), read_only=True) as store:
        document = export_document(store, name)
    if path is not None:
        write_atomically(Path(path), document.to_json())
    return document


def _candidates_by_step(store: Store, name: str) -> dict[int, list[Candidate]]:
    """The candidates of every step that recorded any, from step 0 up: the recorded steps' and those of a step
    that ended without a choice (the search stopped for lack of improvement, or the step failed)."""
    tried: dict[int, list[Candidate]] = {}
    while candidates := store.candidates_of_step(name, len(tried)):
        tried[len(tried)] = candidates
    return tried


def _evaluated_sets(tried: dict[int, list[Candidate]]) -> list[tuple[int, str, str | None]]:
    """(step, set key, added item) of each candidate set tried, in step then set-key order; a set tried at more
    than one step is listed at its first."""
    seen: dict[str, tuple[int, str, str | None]] = {}
    for index, candidates in tried.items():
        for candidate in candidates:
            seen.setdefault(candidate.set_key, (index, candidate.set_key, candidate.added_item_id))
    return list(seen.values())


def _trajectory_step(step: Step, candidates: list[Candidate], pool: dict[str, Demonstration]) -> TrajectoryStep:
    chosen = next((c for c in candidates if c.set_key == step.set_key), None)
    item = pool.get(step.item_id) if step.item_id is not None else None
    return TrajectoryStep(
        step=step.step_index,
        chosen_item=step.item_id,
        chosen_query=item.query if item is not None else None,
        set_key=step.set_key,
        score=step.score,
        stderr=step.stderr,
        n=chosen.n_scored if chosen is not None else 0,
        runner_up_item=step.runner_up_item_id,
        runner_up_score=step.runner_up_score,
        candidates=len(candidates),
    )


def _candidate(candidate: Candidate, step: Step | None) -> CandidateResult:
    return CandidateResult(
        step=candidate.step_index,
        set_key=candidate.set_key,
        demo_ids=candidate.demo_ids,
        added_item=candidate.added_item_id,
        status=candidate.status.value,
        score=candidate.score,
        stderr=candidate.stderr,
        n_scored=candidate.n_scored,
        reason=candidate.reason,
        chosen=step is not None and candidate.set_key == step.set_key,
    )


def _evaluation(
    row: Evaluation, step: int, added: str | None, prompts: dict[str, HeldOutPrompt]
) -> PromptEvaluation:
    detail: dict[str, Any] = dict(row.detail or {})
    prompt = prompts[row.prompt_id]
    rating = detail.get("rating")
    return PromptEvaluation(
        step=step,
        set_key=row.set_key,
        added_item=added,
        prompt_id=row.prompt_id,
        prompt=prompt.query,
        reference=prompt.reference,
        answer=row.output,
        score=row.score,
        error=row.error,
        judge_reply=detail.get("judge_reply"),
        rating=float(rating) if isinstance(rating, int | float) else None,
        prompt_tokens=row.prompt_tokens,
        computed_tokens=row.computed_tokens,
        cached_tokens=row.cached_tokens,
        detail=MappingProxyType(detail),
    )


__all__ = ["export", "load"]
