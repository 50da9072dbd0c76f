"""The values the store takes and returns: frozen dataclasses, never ORM objects.

Timestamps are timezone-aware UTC datetimes taken from the database server's clock. ``created_at`` fields are
``None`` on values built by the caller and filled in on values read back from the store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class SearchStatus(StrEnum):
    """Life cycle of a search: ``created`` -> ``running`` -> ``finished`` | ``failed`` | ``interrupted``."""

    CREATED = "created"
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    FINISHED = "finished"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """Whether the search ended (``finished_at`` is set for these)."""
        return self in (SearchStatus.FINISHED, SearchStatus.FAILED)


class CandidateStatus(StrEnum):
    """Outcome of one candidate set at one step."""

    SCORED = "scored"
    SKIPPED = "skipped"
    FAILED = "failed"
    ELIMINATED = "eliminated"
    """Left the step's race (``strategy.racing``) before it was scored on every held-out prompt."""


MAX_ID_LENGTH = 128
"""Longest item id, prompt id or set key the store accepts (a hex SHA-256 is 64 characters)."""
MAX_NAME_LENGTH = 200
"""Longest search name."""
MAX_OWNER_LENGTH = 255
"""Longest lease owner string."""
MAX_STUDY_NAME_LENGTH = 255
"""Longest name of a decoding-tuning study."""


def require_id(what: str, value: str) -> None:
    """Raise ``ValueError`` unless ``value`` is a usable id: a non-empty string of at most ``MAX_ID_LENGTH``."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"{what} must be at most {MAX_ID_LENGTH} characters, got {len(value)}: {value[:40]!r}...")


def _require_finite(what: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number or None, got {value!r}")


def _require_non_negative(what: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}")


@dataclass(frozen=True)
class Search:
    """A stored search: its configuration, the fingerprint a resume compares, and where it stands.

    ``rules`` and ``fixed_demos`` (JSON objects, in prompt order) are the prompt pieces the search was started
    with, kept so that an export needs none of the original files; ``stop_reason`` says why it last stopped.
    """

    id: int
    name: str
    config: Mapping[str, Any]
    fingerprint: str
    fingerprint_parts: Mapping[str, str]
    status: SearchStatus
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    rules: str = ""
    fixed_demos: tuple[Mapping[str, Any], ...] = ()
    stop_reason: str | None = None


@dataclass(frozen=True)
class LedgerEntry:
    """A computed evaluation by its ``content_key`` (the evaluation ledger): its score (``None``: it failed),
    answer, scorer detail and prompt tokens. A key names everything that decides the result, so an evaluation with
    the same key anywhere in the database can reuse it."""

    content_key: str
    score: float | None
    output: str | None = None
    detail: Mapping[str, Any] | None = None
    prompt_tokens: int = 0

    def __post_init__(self) -> None:
        require_id("content_key of a ledger entry", self.content_key)
        _require_finite(f"score of ledger entry {self.content_key}", self.score)


JUDGE_PROMPT_TOKENS = "judge_prompt_tokens"
JUDGE_COMPLETION_TOKENS = "judge_completion_tokens"
"""The keys of an evaluation's ``detail`` under which a judge's own token counts (read, written) are stored; the
store sums them per search (``SearchSummary``)."""


@dataclass(frozen=True)
class SearchSummary:
    """A search with its progress, as ``list_searches`` reports it (``computed_tokens``: the engines' prefill
    tokens summed over its stored evaluations; ``judge_prompt_tokens`` and ``judge_completion_tokens``: the
    judge's reported tokens, summed over the evaluations it computed; ``reused_evaluations``: those served from the
    evaluation ledger)."""

    search: Search
    steps_done: int
    evaluations: int
    failed_evaluations: int
    last_step_score: float | None
    computed_tokens: int = 0
    judge_prompt_tokens: int = 0
    judge_completion_tokens: int = 0
    reused_evaluations: int = 0


@dataclass(frozen=True)
class StoredItem:
    """A content-addressed item (pool demonstration or held-out prompt).

    ``item_id`` is the caller's stable content hash, ``position`` its order in the source file (unique within a
    search's pool, resp. held-out set), ``payload`` its JSON-serialisable text fields.
    """

    item_id: str
    position: int
    payload: Mapping[str, Any]

    def __post_init__(self) -> None:
        require_id("item_id", self.item_id)
        _require_non_negative(f"position of item {self.item_id}", self.position)


@dataclass(frozen=True)
class Evaluation:
    """The result of one (candidate set, held-out prompt) pair.

    ``score`` is ``None`` when the pair produced no usable score (``error`` then says why, e.g. an unparsable judge
    reply). ``detail`` holds scorer-specific JSON (e.g. the judge's raw reply). Token counts are the engine's:
    ``computed_tokens`` were prefilled, ``cached_tokens`` were served from a prefix cache. ``reused``: copied from
    the evaluation ledger (:class:`LedgerEntry`) instead of computed; it computed nothing and cost no judge call.
    """

    set_key: str
    prompt_id: str
    score: float | None
    output: str | None = None
    detail: Mapping[str, Any] | None = None
    prompt_tokens: int = 0
    computed_tokens: int = 0
    cached_tokens: int = 0
    error: str | None = None
    created_at: datetime | None = None
    reused: bool = False

    def __post_init__(self) -> None:
        require_id("set_key of an evaluation", self.set_key)
        require_id(f"prompt_id of the evaluation of set {self.set_key}", self.prompt_id)
        where = f"evaluation ({self.set_key}, {self.prompt_id})"
        _require_finite(f"score of {where}", self.score)
        for name in ("prompt_tokens", "computed_tokens", "cached_tokens"):
            _require_non_negative(f"{name} of {where}", getattr(self, name))


@dataclass(frozen=True)
class SetTotals:
    """What the stored evaluations of one candidate set add up to (``set_totals``): how many pairs were stored,
    how many have no score (``failed``), and the engines' token counts summed over them (``computed_tokens``
    prefilled, ``cached_tokens`` served from a prefix cache)."""

    set_key: str
    evaluations: int
    failed: int
    prompt_tokens: int
    computed_tokens: int
    cached_tokens: int


@dataclass(frozen=True)
class Candidate:
    """One candidate set tried at one step.

    ``set_key`` identifies the ordered demonstration ids ``demo_ids``; ``added_item_id`` is the pool item this
    candidate adds to the step's base set (``None`` for a set that adds no single item, e.g. a baseline).
    A ``scored`` candidate has a ``score`` (mean over ``n_scored`` prompts, with standard error ``stderr``);
    ``skipped`` and ``failed`` candidates carry the ``reason``.
    """

    step_index: int
    set_key: str
    demo_ids: tuple[str, ...]
    added_item_id: str | None
    status: CandidateStatus
    score: float | None = None
    stderr: float | None = None
    n_scored: int = 0
    reason: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "demo_ids", tuple(self.demo_ids))
        object.__setattr__(self, "status", CandidateStatus(self.status))
        require_id(f"set_key of a candidate of step {self.step_index}", self.set_key)
        where = f"candidate {self.set_key} of step {self.step_index}"
        if self.added_item_id is not None:
            require_id(f"added_item_id of {where}", self.added_item_id)
        _require_non_negative(f"step_index of {where}", self.step_index)
        _require_non_negative(f"n_scored of {where}", self.n_scored)
        _require_finite(f"score of {where}", self.score)
        _require_finite(f"stderr of {where}", self.stderr)
        if self.status is CandidateStatus.SCORED and self.score is None:
            raise ValueError(f"{where} has status 'scored' but no score")
        if self.status is not CandidateStatus.SCORED and not self.reason:
            raise ValueError(f"{where} has status {self.status.value!r} but no reason")


@dataclass(frozen=True)
class Step:
    """The outcome of one step: the chosen candidate set (a recorded candidate of that step) and the runner-up.

    ``racing`` is the step's race summary (JSON, see ``demo_search.search.racing``) when it raced, else ``None``.
    """

    step_index: int
    set_key: str
    item_id: str | None
    score: float
    stderr: float | None = None
    runner_up_set_key: str | None = None
    runner_up_item_id: str | None = None
    runner_up_score: float | None = None
    racing: Mapping[str, Any] | None = None
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        where = f"step {self.step_index}"
        require_id(f"set_key of {where}", self.set_key)
        for name in ("item_id", "runner_up_set_key", "runner_up_item_id"):
            value = getattr(self, name)
            if value is not None:
                require_id(f"{name} of {where}", value)
        _require_non_negative(f"step_index of {where}", self.step_index)
        _require_finite(f"score of {where}", self.score)
        _require_finite(f"stderr of {where}", self.stderr)
        _require_finite(f"runner_up_score of {where}", self.runner_up_score)

    def same_outcome(self, other: Step) -> bool:
        """Whether ``other`` records the same outcome (everything but ``created_at`` is equal)."""
        return replace(self, created_at=None) == replace(other, created_at=None)


@dataclass(frozen=True)
class Lease:
    """Who runs a search, and until when (UTC, database clock) unless renewed."""

    search: str
    owner: str
    acquired_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class TuningResult:
    """The outcome of tuning the decoding parameters of one prompt of a search (an Optuna study, by name).

    ``demo_ids`` are the prompt's demonstrations in prompt order; ``params`` the best decoding parameters found
    (JSON), scoring ``score`` (± ``stderr``) on the held-out prompts; ``baseline_score`` is the score of the
    search's own decoding parameters in the same study (``None`` if that trial has not completed).
    ``n_trials`` counts completed trials; ``importances`` maps a parameter to its importance (may be empty).
    ``updated_at`` is ``None`` on values built by the caller and set on values read back.
    """

    study_name: str
    demo_ids: tuple[str, ...]
    params: Mapping[str, Any]
    score: float
    n_trials: int
    stderr: float | None = None
    baseline_score: float | None = None
    importances: Mapping[str, float] = field(default_factory=dict)
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "demo_ids", tuple(self.demo_ids))
        if not self.study_name or len(self.study_name) > MAX_STUDY_NAME_LENGTH:
            raise ValueError(
                f"a study name must have 1 to {MAX_STUDY_NAME_LENGTH} characters, got {self.study_name!r}"
            )
        where = f"tuning result of study {self.study_name!r}"
        for demo_id in self.demo_ids:
            require_id(f"a demonstration id of the {where}", demo_id)
        _require_finite(f"score of the {where}", self.score)
        _require_finite(f"stderr of the {where}", self.stderr)
        _require_finite(f"baseline_score of the {where}", self.baseline_score)
        _require_non_negative(f"n_trials of the {where}", self.n_trials)
        for name, value in self.importances.items():
            _require_finite(f"importance of {name!r} in the {where}", value)
