"""Candidate demonstration sets and their aggregated scores."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass


def set_key(demo_ids: Sequence[str]) -> str:
    """A stable key for an ordered demonstration set (order matters: it changes the prompt)."""
    return hashlib.sha256("\x1f".join(demo_ids).encode()).hexdigest()[:20]


@dataclass(frozen=True)
class CandidateSet:
    """An ordered set of searched demonstrations (fixed demonstrations are not part of it).

    ``added`` is the demonstration the step that proposed it added to its parent (``None`` for the base set).
    """

    demo_ids: tuple[str, ...]
    added: str | None = None

    @property
    def key(self) -> str:
        return set_key(self.demo_ids)

    def extend(self, demo_id: str) -> CandidateSet:
        return CandidateSet(self.demo_ids + (demo_id,), added=demo_id)


@dataclass(frozen=True)
class Aggregate:
    """Mean of the per-prompt scores with its standard error; failed evaluations are counted, not averaged."""

    mean: float
    stderr: float
    n: int
    n_failed: int = 0

    @classmethod
    def of(cls, scores: Sequence[float], n_failed: int = 0) -> Aggregate:
        n = len(scores)
        if n == 0:
            return cls(mean=float("nan"), stderr=float("nan"), n=0, n_failed=n_failed)
        mean = math.fsum(scores) / n
        if n == 1:
            return cls(mean=mean, stderr=0.0, n=1, n_failed=n_failed)
        var = math.fsum((s - mean) ** 2 for s in scores) / (n - 1)
        return cls(mean=mean, stderr=math.sqrt(var / n), n=n, n_failed=n_failed)

    @property
    def valid(self) -> bool:
        return self.n > 0 and not math.isnan(self.mean)


@dataclass(frozen=True)
class Proposal:
    """A candidate set a strategy proposes for a step; ``rank_hint`` orders ties (lower first), see
    ``ranking_key``."""

    candidate: CandidateSet
    rank_hint: tuple[int, ...] = ()

    def scored(self, score: Aggregate) -> ScoredSet:
        return ScoredSet(self.candidate, score, self.rank_hint)


BASE_PROPOSAL = Proposal(CandidateSet(()), (0, 0))
"""The only set of the base step (step 0): the rules and fixed demonstrations alone."""


@dataclass(frozen=True)
class ScoredSet:
    """A candidate set with its aggregate; ``rank_hint`` orders ties (lower first), see ``ranking_key``."""

    candidate: CandidateSet
    score: Aggregate
    rank_hint: tuple[int, ...] = ()


def ranking_key(scored: ScoredSet) -> tuple:
    """Deterministic ranking: higher mean first; on an exact tie, the lower ``rank_hint`` wins.

    ``rank_hint`` is (parent beam rank, position of the added demonstration in the pool file), so ties go to
    the better parent, then to the candidate that comes first in the pool. Sets without a valid score
    (every evaluation failed) rank last.
    """
    valid = scored.score.valid
    return (0 if valid else 1, -scored.score.mean if valid else 0.0, scored.rank_hint, scored.candidate.key)


def rank(scored: Sequence[ScoredSet]) -> list[ScoredSet]:
    return sorted(scored, key=ranking_key)
