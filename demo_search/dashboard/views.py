"""What the dashboard's pages show, as frozen values built by :mod:`demo_search.dashboard.queries`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db import TuningResult


@dataclass(frozen=True)
class SearchListing:
    """One search in the list: where it stands and how far it got.

    ``max_steps`` is the stored configuration's ``strategy.max_steps`` (``None`` when absent); a search runs at
    most ``max_steps + 1`` steps (step 0 scores the base set), so that is what ``steps_done`` counts towards.
    """

    name: str
    status: str
    stop_reason: str | None
    steps_done: int
    max_steps: int | None
    evaluations: int
    failed_evaluations: int
    last_step_score: float | None
    computed_tokens: int
    created_at: datetime
    updated_at: datetime

    @property
    def running(self) -> bool:
        return self.status in ("created", "running")

    @property
    def progress(self) -> float | None:
        """Share of the step limit done (0..1), or ``None`` without a step limit."""
        if self.max_steps is None:
            return None
        return min(1.0, self.steps_done / (self.max_steps + 1))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "stop_reason": self.stop_reason,
            "steps_done": self.steps_done,
            "max_steps": self.max_steps,
            "progress": self.progress,
            "evaluations": self.evaluations,
            "failed_evaluations": self.failed_evaluations,
            "last_step_score": self.last_step_score,
            "computed_tokens": self.computed_tokens,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class StepPoint:
    """One recorded step of the trajectory: the chosen set's score ± standard error and the runner-up's."""

    step: int
    set_key: str
    item_id: str | None
    item_label: str
    score: float
    stderr: float | None
    n_scored: int
    runner_up_item_id: str | None
    runner_up_score: float | None
    test_score: float | None = None
    """The chosen set's mean score on the test prompts (``data.test``), when it was scored on them."""
    test_stderr: float | None = None

    @property
    def margin(self) -> float | None:
        """How far the chosen set scored above the runner-up (``None`` without a runner-up)."""
        return None if self.runner_up_score is None else self.score - self.runner_up_score


@dataclass(frozen=True)
class CandidateRow:
    """One candidate set at one step, with the sums of its stored evaluations."""

    step: int
    set_key: str
    added_item_id: str | None
    added_label: str
    status: str
    score: float | None
    stderr: float | None
    n_scored: int
    reason: str | None
    chosen: bool
    evaluations: int
    failed_evaluations: int
    computed_tokens: int
    cached_tokens: int


@dataclass(frozen=True)
class StepTokens:
    """Tokens of one step's stored evaluations: prefilled by an engine, against served from its prefix cache."""

    step: int
    computed: int
    cached: int


@dataclass(frozen=True)
class SearchPage:
    """Everything the page of one search shows."""

    listing: SearchListing
    scorer: str
    trajectory: tuple[StepPoint, ...]
    candidates: tuple[CandidateRow, ...]
    tokens: tuple[StepTokens, ...]
    tuning: tuple[TuningResult, ...]

    @property
    def problems(self) -> tuple[CandidateRow, ...]:
        """The candidates that were skipped or failed, or have failed evaluations (not those racing eliminated)."""
        return tuple(c for c in self.candidates if c.status not in ("scored", "eliminated") or c.failed_evaluations)


@dataclass(frozen=True)
class PromptRow:
    """One held-out prompt's evaluation under one candidate set (``stored`` false: not evaluated yet)."""

    prompt_id: str
    position: int
    query: str
    stored: bool
    score: float | None
    error: str | None
    answer: str | None


@dataclass(frozen=True)
class CandidatePage:
    """One candidate set: its demonstrations (labels, in prompt order of the selected ones) and its prompts."""

    search: str
    candidate: CandidateRow
    demonstrations: tuple[str, ...]
    prompts: tuple[PromptRow, ...]


@dataclass(frozen=True)
class PairPage:
    """One (candidate set, held-out prompt) pair: the prompt as the model saw it and what came back."""

    search: str
    scorer: str
    candidate: CandidateRow
    prompt_id: str
    query: str
    reference: str | None
    rendered_prompt: str
    stored: bool
    answer: str | None
    score: float | None
    error: str | None
    judge_reply: str | None
    rating: float | None
    prompt_tokens: int
    computed_tokens: int
    cached_tokens: int
    detail: Mapping[str, Any]
