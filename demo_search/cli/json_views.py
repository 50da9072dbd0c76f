"""What ``status --json`` and ``list --json`` print: one typed document per command, and its JSON Schema.

The documents are built from the store's records and serialised by pydantic (timestamps as ISO 8601 strings in
UTC, missing values as ``null``); their JSON Schema is generated from the same models, never written by hand. Each
document names its ``format`` and ``version``: a field is added without changing the version, a field is renamed
or removed only with a new one. Print a schema with::

    python -m demo_search.cli.json_views status      # or: list
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from db import Candidate, SearchSummary, Step, TuningResult
from demo_search.search.budget import judge_usd

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
VERSION = 1


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SearchProgress(_View):
    """One search and how far it got (a row of ``list``, the head of ``status``)."""

    name: str
    status: Literal["created", "running", "interrupted", "finished", "failed"]
    stop_reason: str | None = Field(description="why the search last stopped")
    steps_done: int = Field(ge=0, description="steps recorded (the base set is step 0)")
    evaluations: int = Field(ge=0, description="stored (candidate set, held-out prompt) pairs")
    failed_evaluations: int = Field(ge=0, description="stored pairs that have an error instead of a score")
    last_step_score: float | None = Field(description="the score of the last recorded step")
    computed_tokens: int = Field(ge=0, description="prefill tokens the engines computed for the stored pairs")
    reused_evaluations: int = Field(0, ge=0, description="stored pairs served from the evaluation ledger")
    judge_prompt_tokens: int = Field(0, ge=0, description="tokens the judge read, as it reported them")
    judge_completion_tokens: int = Field(0, ge=0, description="tokens the judge wrote, as it reported them")
    judge_usd: float | None = Field(
        None, description="what those judge tokens cost at the search's scorer.judge.price (null: it has no price)"
    )
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class CandidateView(_View):
    """One candidate set tried at a step."""

    set_key: str
    demo_ids: list[str] = Field(description="the set's pool item ids in prompt order")
    added_item_id: str | None = Field(description="the pool item this set adds to the step's base set")
    status: Literal["scored", "skipped", "failed", "eliminated"]
    score: float | None
    stderr: float | None
    n_scored: int = Field(ge=0, description="held-out prompts its score is the mean over")
    reason: str | None = Field(description="why it was skipped, failed or eliminated (by racing)")


class ChosenSet(_View):
    """The candidate set a step kept."""

    item_id: str | None = Field(description="the pool item it added; null for the base set")
    set_key: str
    demo_ids: list[str]
    n_scored: int | None = Field(ge=0, description="held-out prompts its score is the mean over")


class RunnerUp(_View):
    """The second-best candidate set of a step."""

    item_id: str | None
    set_key: str
    score: float | None


class RacingView(_View):
    """How a step that raced its candidates compares with an exhaustive step."""

    evaluations: int = Field(ge=0, description="(set, prompt) evaluations the step's candidates have stored")
    exhaustive_evaluations: int = Field(ge=0, description="what scoring every set on every prompt takes")
    saved_evaluations: int = Field(ge=0)


class StepView(_View):
    """One step of the trajectory: the chosen set with its score ± standard error, the runner-up, what was tried."""

    step: int = Field(ge=0)
    chosen: ChosenSet
    score: float
    stderr: float | None
    runner_up: RunnerUp | None
    tried: int = Field(ge=0, description="candidate sets tried (all statuses)")
    skipped: int = Field(ge=0)
    failed: int = Field(ge=0)
    recorded_at: datetime | None
    candidates: list[CandidateView]
    eliminated: int = Field(0, ge=0, description="candidate sets racing eliminated (strategy.racing)")
    racing: RacingView | None = Field(None, description="for a step that raced: its evaluations against exhaustive")


class TuningView(_View):
    """A decoding-tuning study stored on the search."""

    study_name: str
    demo_ids: list[str]
    params: dict[str, JsonValue] = Field(description="the best decoding parameters found")
    score: float
    stderr: float | None
    baseline_score: float | None = Field(description="the score of the search's own decoding parameters")
    n_trials: int = Field(ge=0, description="completed trials")
    importances: dict[str, float]
    updated_at: datetime | None


class StatusDocument(_View):
    """``demo-search status NAME --json``."""

    format: Literal["demo-search.status"] = "demo-search.status"
    version: Literal[1] = VERSION
    database: str = Field(description="the database URL, password hidden")
    search: SearchProgress
    steps: list[StepView]
    tuning: list[TuningView]


class ListDocument(_View):
    """``demo-search list --json``."""

    format: Literal["demo-search.list"] = "demo-search.list"
    version: Literal[1] = VERSION
    database: str = Field(description="the database URL, password hidden")
    searches: list[SearchProgress]


def search_progress(summary: SearchSummary) -> SearchProgress:
    search = summary.search
    return SearchProgress(
        name=search.name, status=search.status.value, stop_reason=search.stop_reason, steps_done=summary.steps_done,
        evaluations=summary.evaluations, failed_evaluations=summary.failed_evaluations,
        last_step_score=summary.last_step_score, computed_tokens=summary.computed_tokens,
        reused_evaluations=summary.reused_evaluations, judge_prompt_tokens=summary.judge_prompt_tokens,
        judge_completion_tokens=summary.judge_completion_tokens,
        judge_usd=judge_usd(search.config, summary.judge_prompt_tokens, summary.judge_completion_tokens),
        created_at=search.created_at, updated_at=search.updated_at, finished_at=search.finished_at,
    )


def candidate_view(candidate: Candidate) -> CandidateView:
    return CandidateView(
        set_key=candidate.set_key, demo_ids=list(candidate.demo_ids), added_item_id=candidate.added_item_id,
        status=candidate.status.value, score=candidate.score, stderr=candidate.stderr, n_scored=candidate.n_scored,
        reason=candidate.reason,
    )


def step_view(step: Step, candidates: Sequence[Candidate]) -> StepView:
    chosen = next((c for c in candidates if c.set_key == step.set_key), None)
    runner_up = None
    if step.runner_up_set_key is not None:
        runner_up = RunnerUp(item_id=step.runner_up_item_id, set_key=step.runner_up_set_key,
                             score=step.runner_up_score)
    return StepView(
        step=step.step_index,
        chosen=ChosenSet(item_id=step.item_id, set_key=step.set_key,
                         demo_ids=list(chosen.demo_ids) if chosen else [],
                         n_scored=chosen.n_scored if chosen else None),
        score=step.score, stderr=step.stderr, runner_up=runner_up, tried=len(candidates),
        skipped=sum(1 for c in candidates if c.status.value == "skipped"),
        failed=sum(1 for c in candidates if c.status.value == "failed"),
        recorded_at=step.created_at, candidates=[candidate_view(c) for c in candidates],
        eliminated=sum(1 for c in candidates if c.status.value == "eliminated"),
        racing=RacingView(**{key: step.racing[key] for key in RacingView.model_fields}) if step.racing else None,
    )


def tuning_view(result: TuningResult) -> TuningView:
    return TuningView(
        study_name=result.study_name, demo_ids=list(result.demo_ids), params=dict(result.params), score=result.score,
        stderr=result.stderr, baseline_score=result.baseline_score, n_trials=result.n_trials,
        importances=dict(result.importances), updated_at=result.updated_at,
    )


def status_document(
    database: str,
    summary: SearchSummary,
    rows: Sequence[tuple[Step, Sequence[Candidate]]],
    tuning: Sequence[TuningResult],
) -> StatusDocument:
    """The status of ``summary``'s search: its progress, its steps with their candidates, its tuning results."""
    return StatusDocument(
        database=database, search=search_progress(summary), steps=[step_view(s, c) for s, c in rows],
        tuning=[tuning_view(t) for t in tuning],
    )


def list_document(database: str, summaries: Sequence[SearchSummary]) -> ListDocument:
    """Every search of the database on ``database``, oldest first."""
    return ListDocument(database=database, searches=[search_progress(s) for s in summaries])


def to_json(document: StatusDocument | ListDocument) -> str:
    """The document as indented JSON text, ending with a newline."""
    return document.model_dump_json(indent=2) + "\n"


DOCUMENTS: dict[str, type[StatusDocument] | type[ListDocument]] = {"status": StatusDocument, "list": ListDocument}


def json_schema(command: Literal["status", "list"]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of what ``demo-search COMMAND --json`` prints, generated from its model."""
    model = DOCUMENTS[command]
    return {"$schema": JSON_SCHEMA_DIALECT, **model.model_json_schema(mode="serialization")}


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1 or argv[0] not in DOCUMENTS:
        print(f"usage: python -m demo_search.cli.json_views {{{','.join(DOCUMENTS)}}}", file=sys.stderr)
        return 2
    print(json.dumps(json_schema(argv[0]), indent=2))  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


__all__ = [
    "ListDocument", "SearchProgress", "StatusDocument", "StepView", "TuningView", "json_schema", "list_document",
    "status_document", "to_json",
]
