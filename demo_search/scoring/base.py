"""The scorer interface: per-prompt scores from one unit's engine results."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from workers.tree import LeafGeneration, LeafScore


@dataclass(frozen=True)
class Evaluation:
    """The score of one (candidate set, held-out prompt) pair.

    ``score is None`` means the evaluation failed (``error`` says why); it is stored and counted but
    excluded from the mean.
    """

    prompt_id: str
    score: float | None
    output: str | None = None
    error: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


class Scorer(ABC):
    """Scores a candidate set's answers on the held-out prompts.

    Contract:
    * ``engine_call`` says which engine method produces its input: ``"score"`` (log-probabilities of the
      reference, which must then be present on every prompt) or ``"generate"``.
    * ``evaluate`` returns one ``Evaluation`` per input item, in input order; a failure on one prompt is
      an ``Evaluation`` with ``score=None`` and an error, never an exception (exceptions are reserved for a
      scorer that cannot work at all, e.g. an unreachable judge after its retries).
    * Higher is better.
    * ``score_range`` is ``(low, high)`` when every score lies in it (racing needs it for its bounds), else
      ``None`` (log-likelihoods and reward-model scores are unbounded).
    """

    engine_call: Literal["score", "generate"]
    score_range: tuple[float, float] | None = None

    @property
    def needs_references(self) -> bool:
        return False

    @abstractmethod
    def evaluate(
        self, items: Sequence[LeafScore] | Sequence[LeafGeneration], prompts: Mapping[str, Any]
    ) -> list[Evaluation]:
        """Per-prompt evaluations; ``prompts`` maps a leaf id to its ``HeldOutPrompt``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients or models. Default: nothing."""
