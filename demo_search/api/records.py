"""What ``demo_search.load`` returns: a stored search as frozen, typed values, with tables that become pandas
data frames.

Every value is read from the store alone (no data file or model is needed). ``Table.to_pandas()`` needs pandas
(``pip install pandas``); nothing else here does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar, overload

from demo_search.errors import DemoSearchError
from demo_search.types import Demonstration, HeldOutPrompt


class PandasMissingError(DemoSearchError, ImportError):
    """``to_pandas()`` was called where pandas is not installed."""


@dataclass(frozen=True)
class TrajectoryStep:
    """One recorded step: the chosen candidate set, its score (mean over ``n`` prompts ± ``stderr``, the standard
    error) and the runner-up. ``chosen_item`` is the pool item the step added (``None`` for the base set, step 0),
    ``chosen_query`` that item's first query; ``candidates`` counts the sets the step tried."""

    step: int
    chosen_item: str | None
    chosen_query: str | None
    set_key: str
    score: float
    stderr: float | None
    n: int
    runner_up_item: str | None
    runner_up_score: float | None
    candidates: int


@dataclass(frozen=True)
class CandidateResult:
    """One candidate set tried at one step: ``status`` is ``scored``, ``skipped``, ``failed`` or ``eliminated``
    (by racing; ``reason`` says why); ``chosen`` marks the set the step kept."""

    step: int
    set_key: str
    demo_ids: tuple[str, ...]
    added_item: str | None
    status: str
    score: float | None
    stderr: float | None
    n_scored: int
    reason: str | None
    chosen: bool


@dataclass(frozen=True)
class PromptEvaluation:
    """One (candidate set, held-out prompt) pair: the generated ``answer`` (``None`` for log-likelihood scoring),
    its ``score`` (``None`` when it failed; ``error`` says why), the judge's reply and rating when a judge scored
    it, and the engine's token counts. ``step`` is the step whose candidate the set is; ``detail`` holds what the
    scorer stored (e.g. the judge's template and attempts)."""

    step: int
    set_key: str
    added_item: str | None
    prompt_id: str
    prompt: str
    reference: str | None
    answer: str | None
    score: float | None
    error: str | None
    judge_reply: str | None
    rating: float | None
    prompt_tokens: int
    computed_tokens: int
    cached_tokens: int
    detail: Mapping[str, Any]


RowT = TypeVar("RowT")


@dataclass(frozen=True)
class Table(Sequence[RowT], Generic[RowT]):
    """Rows of one kind, in order; a read-only sequence with :meth:`to_pandas`."""

    rows: tuple[RowT, ...]
    row_type: ClassVar[type]

    @overload
    def __getitem__(self, index: int) -> RowT: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[RowT, ...]: ...
    def __getitem__(self, index: int | slice) -> RowT | tuple[RowT, ...]:
        return self.rows[index]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[RowT]:
        return iter(self.rows)

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` with one row per item and one column per field (in field order; mappings as
        ``dict``, id tuples as tuples). Raises :class:`PandasMissingError` when pandas is not installed."""
        try:
            import pandas
        except ModuleNotFoundError:
            raise PandasMissingError(
                f"{type(self).__name__}.to_pandas() needs pandas, which is not installed: pip install pandas"
            ) from None
        columns = [field.name for field in fields(self.row_type)]
        records = [{name: _plain(getattr(row, name)) for name in columns} for row in self.rows]
        return pandas.DataFrame.from_records(records, columns=columns)


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


class Trajectory(Table[TrajectoryStep]):
    """The recorded steps, base set (step 0) first."""

    row_type = TrajectoryStep


class Candidates(Table[CandidateResult]):
    """Every candidate set of every recorded step, by step, then set key."""

    row_type = CandidateResult


class Evaluations(Table[PromptEvaluation]):
    """The evaluations of the candidate sets of every recorded candidate, by step, set key, then held-out prompt
    order."""

    row_type = PromptEvaluation


@dataclass(frozen=True)
class SearchResult:
    """A stored search: ``status`` (``created``, ``running``, ``interrupted``, ``finished``, ``failed``) and why it
    last stopped; ``config``, the configuration it ran with as stored (JSON data, database password masked); its
    ``trajectory``, ``candidates`` and ``evaluations``; its ``pool`` and held-out ``prompts`` by id.

    ``candidates`` and ``evaluations`` cover every step whose candidates are recorded (also a last step that
    chose nothing); the evaluations of a step still running appear once its candidates are recorded."""

    name: str
    status: str
    stop_reason: str | None
    config: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    trajectory: Trajectory
    candidates: Candidates
    evaluations: Evaluations
    pool: Mapping[str, Demonstration]
    prompts: Mapping[str, HeldOutPrompt]

    @property
    def best_score(self) -> float | None:
        """The score of the last recorded step's chosen set (``None`` before the base set is scored)."""
        return self.trajectory[-1].score if self.trajectory else None

    @property
    def best_demo_ids(self) -> tuple[str, ...]:
        """The searched demonstrations of the last recorded step's chosen set, in the order the search added them
        (fixed demonstrations not included; empty before the base set is scored)."""
        if not self.trajectory:
            return ()
        last = self.trajectory[-1]
        return next((c.demo_ids for c in self.candidates if c.step == last.step and c.chosen), ())


__all__ = [
    "CandidateResult",
    "Candidates",
    "Evaluations",
    "PandasMissingError",
    "PromptEvaluation",
    "SearchResult",
    "Table",
    "Trajectory",
    "TrajectoryStep",
]
