"""Work units sent to engine actors, and the results the dispatcher yields for them.

A unit is normally one candidate: a prefix tree with one branch and all the step's leaves, so its
branch is computed once, on one actor (see the README, "How it works").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from workers.decoding import DecodingParams
from workers.tree import GenerateResult, PrefixTree, ScoreResult

UnitKind = Literal["score", "generate"]


@dataclass(frozen=True)
class WorkUnit:
    """One call of an engine: ``score`` a tree, or ``generate`` for it with ``params``.

    ``unit_id`` is chosen by the caller and must be unique among the units of one ``Dispatcher.run``.
    """

    unit_id: str
    kind: UnitKind
    tree: PrefixTree
    params: DecodingParams | None = None

    def __post_init__(self) -> None:
        if not self.unit_id:
            raise ValueError("unit_id must not be empty")
        if self.kind == "generate" and self.params is None:
            raise ValueError(f"unit {self.unit_id!r}: kind 'generate' needs DecodingParams in params")
        if self.kind == "score" and self.params is not None:
            raise ValueError(f"unit {self.unit_id!r}: kind 'score' takes no params, got {self.params!r}")
        if self.kind not in ("score", "generate"):
            raise ValueError(f"unit {self.unit_id!r}: kind must be 'score' or 'generate', got {self.kind!r}")


@dataclass(frozen=True)
class UnitResult:
    """The outcome of one unit; the dispatcher yields exactly one per unit.

    ``ok`` units carry ``result`` and no ``error``; failed units carry ``error`` (the last failure's
    type and message) and no ``result``. ``attempts`` counts every time the unit was sent to an actor,
    including attempts lost because the actor died. ``actor`` names the actor of the last attempt.
    """

    unit_id: str
    ok: bool
    result: ScoreResult | GenerateResult | None
    error: str | None
    attempts: int
    actor: str

    def __post_init__(self) -> None:
        if self.ok != (self.result is not None) or self.ok == (self.error is not None):
            raise ValueError(
                f"unit {self.unit_id!r}: an ok result carries result and no error, a failed one error and no "
                f"result; got ok={self.ok}, result={'set' if self.result is not None else None}, error={self.error!r}"
            )


__all__ = ["UnitKind", "UnitResult", "WorkUnit"]
