"""The dashboard's view models, read through the store's read APIs (never SQL of its own).

Each function takes an open (read-only) store and a search name and raises the store's errors, e.g.
``SearchNotFoundError`` for an unknown search; :class:`PageNotFound` for an unknown candidate set or prompt.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from db import Candidate, Search, SearchSummary, SetTotals, Store
from demo_search.dashboard.prompts import prompt_in_conversation, render_pair_prompt
from demo_search.dashboard.views import (
    CandidatePage,
    CandidateRow,
    PairPage,
    PromptRow,
    SearchListing,
    SearchPage,
    StepPoint,
    StepTokens,
)
from demo_search.split_scores import stored_test_scores
from demo_search.types import Demonstration, HeldOutPrompt

LABEL_CHARS = 60
"""Longest label of a demonstration (its first query, cut) shown in tables and plots."""


class PageNotFound(LookupError):
    """The page asks for a candidate set or a prompt that the search does not have."""


def search_listings(store: Store) -> list[SearchListing]:
    """Every search of the store, oldest first."""
    return [_listing(summary) for summary in store.list_searches()]


def search_listing(store: Store, name: str) -> SearchListing:
    store.get_search(name)  # SearchNotFoundError, with close names, for an unknown name
    return _listing(store.search_summary(name))


def search_page(store: Store, name: str) -> SearchPage:
    """The trajectory, every candidate with its evaluation sums, tokens per step, and tuning results."""
    listing = search_listing(store, name)
    search = store.get_search(name)
    labels = _labels(store, name)
    steps = store.steps(name)
    chosen = {(step.step_index, step.set_key) for step in steps}
    totals = {t.set_key: t for t in store.set_totals(name)}
    candidates = tuple(
        _candidate_row(c, labels, totals.get(c.set_key), chosen=(c.step_index, c.set_key) in chosen)
        for c in store.all_candidates(name)
    )
    n_scored = {(c.step, c.set_key): c.n_scored for c in candidates}
    tests = {step: score for step, score in stored_test_scores(store, name).items() if score.valid}
    trajectory = tuple(
        StepPoint(
            step=step.step_index,
            set_key=step.set_key,
            item_id=step.item_id,
            item_label=labels.get(step.item_id, "base set") if step.item_id else "base set",
            score=step.score,
            stderr=step.stderr,
            n_scored=n_scored.get((step.step_index, step.set_key), 0),
            runner_up_item_id=step.runner_up_item_id,
            runner_up_score=step.runner_up_score,
            test_score=tests[step.step_index].mean if step.step_index in tests else None,
            test_stderr=tests[step.step_index].stderr if step.step_index in tests else None,
        )
        for step in steps
    )
    return SearchPage(
        listing=listing,
        scorer=_scorer(search),
        trajectory=trajectory,
        candidates=candidates,
        tokens=_tokens_per_step(candidates),
        tuning=tuple(store.tuning_results(name)),
    )


def candidate_page(store: Store, name: str, set_key: str) -> CandidatePage:
    """One candidate set: its demonstrations and every held-out prompt with its stored evaluation, if any."""
    candidate = _candidate(store, name, set_key)
    labels = _labels(store, name)
    row = _candidate_row(candidate, labels, _totals(store, name, set_key), chosen=_is_chosen(store, name, candidate))
    evaluations = {e.prompt_id: e for e in store.evaluations_for(name, set_key)}
    prompts = []
    for item in store.heldout_prompts(name):
        evaluation = evaluations.get(item.item_id)
        prompts.append(
            PromptRow(
                prompt_id=item.item_id,
                position=item.position,
                query=str(item.payload.get("query", "")),
                stored=evaluation is not None,
                score=None if evaluation is None else evaluation.score,
                error=None if evaluation is None else evaluation.error,
                answer=None if evaluation is None else evaluation.output,
            )
        )
    demonstrations = tuple(labels.get(demo_id, demo_id) for demo_id in candidate.demo_ids)
    return CandidatePage(search=name, candidate=row, demonstrations=demonstrations, prompts=tuple(prompts))


def pair_page(store: Store, name: str, set_key: str, prompt_id: str) -> PairPage:
    """One pair: the prompt rendered as the search rendered it, the answer, the reference, the judge's reply."""
    search = store.get_search(name)
    candidate = _candidate(store, name, set_key)
    prompts = tuple(HeldOutPrompt.from_payload(item.payload) for item in store.heldout_prompts(name))
    prompt = next((p for p in prompts if p.id == prompt_id), None)
    if prompt is None:
        raise PageNotFound(f"search {name!r} has no held-out prompt {prompt_id!r}")
    pool = {item.item_id: Demonstration.from_payload(item.payload) for item in store.pool_items(name)}
    evaluation = store.evaluation(name, set_key, prompt_id)
    scorer = _scorer(search)

    def answer_of(followed: str) -> str | None:
        stored = store.evaluation(name, set_key, followed)
        return None if stored is None else stored.output

    asked = prompt_in_conversation(prompt, prompts, scorer=scorer, answer_of=answer_of)
    rendered = render_pair_prompt(
        search.config,
        search.rules,
        [Demonstration.from_payload(payload) for payload in search.fixed_demos],
        [pool[demo_id] for demo_id in candidate.demo_ids],
        asked,
    )
    detail: Mapping[str, Any] = (evaluation.detail or {}) if evaluation is not None else {}
    rating = detail.get("rating")
    reply = detail.get("judge_reply")
    row = _candidate_row(
        candidate, _labels(store, name), _totals(store, name, set_key), chosen=_is_chosen(store, name, candidate)
    )
    return PairPage(
        search=name,
        scorer=scorer,
        candidate=row,
        prompt_id=prompt_id,
        query=prompt.query,
        reference=prompt.reference,
        rendered_prompt=rendered,
        stored=evaluation is not None,
        answer=None if evaluation is None else evaluation.output,
        score=None if evaluation is None else evaluation.score,
        error=None if evaluation is None else evaluation.error,
        judge_reply=None if reply is None else str(reply),
        rating=None if rating is None else float(rating),
        prompt_tokens=0 if evaluation is None else evaluation.prompt_tokens,
        computed_tokens=0 if evaluation is None else evaluation.computed_tokens,
        cached_tokens=0 if evaluation is None else evaluation.cached_tokens,
        detail=detail,
    )


# --- helpers ----------------------------------------------------------------------------------------------


def _listing(summary: SearchSummary) -> SearchListing:
    search = summary.search
    max_steps = search.config.get("strategy", {}).get("max_steps")
    return SearchListing(
        name=search.name,
        status=search.status.value,
        stop_reason=search.stop_reason,
        steps_done=summary.steps_done,
        max_steps=max_steps if isinstance(max_steps, int) else None,
        evaluations=summary.evaluations,
        failed_evaluations=summary.failed_evaluations,
        last_step_score=summary.last_step_score,
        computed_tokens=summary.computed_tokens,
        created_at=search.created_at,
        updated_at=search.updated_at,
    )


def _scorer(search: Search) -> str:
    return str(search.config.get("scorer", {}).get("kind", "loglik"))


def _labels(store: Store, name: str) -> dict[str, str]:
    """Pool item id -> its first query, cut to ``LABEL_CHARS``."""
    labels = {}
    for item in store.pool_items(name):
        query = " ".join(Demonstration.from_payload(item.payload).query.split())
        labels[item.item_id] = query if len(query) <= LABEL_CHARS else query[: LABEL_CHARS - 1] + "…"
    return labels


def _candidate(store: Store, name: str, set_key: str) -> Candidate:
    """The first recorded candidate with ``set_key`` (a set is tried at one step, its key names its ids)."""
    found = next((c for c in store.all_candidates(name) if c.set_key == set_key), None)
    if found is None:
        raise PageNotFound(f"search {name!r} has no candidate set {set_key!r}")
    return found


def _is_chosen(store: Store, name: str, candidate: Candidate) -> bool:
    return any(s.step_index == candidate.step_index and s.set_key == candidate.set_key for s in store.steps(name))


def _totals(store: Store, name: str, set_key: str) -> SetTotals | None:
    return next((t for t in store.set_totals(name) if t.set_key == set_key), None)


def _candidate_row(
    candidate: Candidate, labels: Mapping[str, str], totals: SetTotals | None, *, chosen: bool
) -> CandidateRow:
    added = candidate.added_item_id
    return CandidateRow(
        step=candidate.step_index,
        set_key=candidate.set_key,
        added_item_id=added,
        added_label=labels.get(added, added) if added else "base set",
        status=candidate.status.value,
        score=candidate.score,
        stderr=candidate.stderr,
        n_scored=candidate.n_scored,
        reason=candidate.reason,
        chosen=chosen,
        evaluations=totals.evaluations if totals else 0,
        failed_evaluations=totals.failed if totals else 0,
        computed_tokens=totals.computed_tokens if totals else 0,
        cached_tokens=totals.cached_tokens if totals else 0,
    )


def _tokens_per_step(candidates: tuple[CandidateRow, ...]) -> tuple[StepTokens, ...]:
    """Each step's candidates' token sums; a set tried at several steps counts at the first."""
    computed: dict[int, int] = defaultdict(int)
    cached: dict[int, int] = defaultdict(int)
    seen: set[str] = set()
    for candidate in candidates:  # ordered by step
        if candidate.set_key in seen:
            continue
        seen.add(candidate.set_key)
        computed[candidate.step] += candidate.computed_tokens
        cached[candidate.step] += candidate.cached_tokens
    return tuple(StepTokens(step, computed[step], cached[step]) for step in sorted(computed))
