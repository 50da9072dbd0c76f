"""Search strategies: which demonstration sets a step evaluates, and which survive it.

A strategy holds no per-run state: everything it needs (the surviving beams, the ranked results of the
earlier steps, the pool order) comes in as arguments, re-read from the store, so a resumed search proposes
exactly the sets an uninterrupted one would.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Sequence

from demo_search.search.candidates import Proposal, ScoredSet


class Strategy(ABC):
    """Proposes each step's candidate sets and selects the survivors.

    Contract:
    * ``propose(step, beams, pool_ids, history)`` returns the sets step ``step`` (1-based) evaluates, each
      with a ``rank_hint`` that orders exact ties (see ``candidates.ranking_key``); never the same set twice.
      ``beams`` are the survivors of the previous step, best first (for step 1, the base set); ``history``
      holds the ranked results of steps ``1 .. step-1``.
    * ``survivors(ranked)`` returns the sets that go on, best first, from the step's ranked results.
    * ``stop_reason(ranked, beams)`` says why the search ends at this step instead of recording it (the best
      set does not improve enough on the best beam), or ``None`` to go on.
    """

    @abstractmethod
    def propose(
        self,
        step: int,
        beams: Sequence[ScoredSet],
        pool_ids: Sequence[str],
        history: Sequence[Sequence[ScoredSet]],
    ) -> list[Proposal]:
        """The candidate sets of ``step``."""

    @abstractmethod
    def survivors(self, ranked: Sequence[ScoredSet]) -> list[ScoredSet]:
        """The sets that survive the step, best first."""

    def stop_reason(self, ranked: Sequence[ScoredSet], beams: Sequence[ScoredSet]) -> str | None:
        """Why the search stops before recording this step, or ``None`` (the default: never early)."""
        return None


def _proposal(parent: ScoredSet, beam_rank: int, demo_id: str, pool_position: int) -> Proposal:
    return Proposal(parent.candidate.extend(demo_id), rank_hint=(beam_rank, pool_position))


class BeamSearch(Strategy):
    """Every remaining pool item is tried with every surviving set; the ``width`` best sets survive.

    ``width == 1`` is the paper's greedy forward selection. The search stops at the first step whose best set
    improves on the best beam by less than ``min_delta``.
    """

    def __init__(self, width: int = 1, *, min_delta: float = 0.0) -> None:
        if width < 1:
            raise ValueError(f"beam width must be >= 1, got {width}")
        self.width = width
        self.min_delta = min_delta

    def stop_reason(self, ranked, beams):
        gain = ranked[0].score.mean - beams[0].score.mean
        if gain < self.min_delta:
            return f"no candidate improved by min_delta ({self.min_delta}); best gain {gain:+.4f}"
        return None

    def propose(self, step, beams, pool_ids, history):
        proposals = []
        for beam_rank, beam in enumerate(beams):
            chosen = set(beam.candidate.demo_ids)
            proposals.extend(
                _proposal(beam, beam_rank, demo_id, position)
                for position, demo_id in enumerate(pool_ids)
                if demo_id not in chosen
            )
        return proposals

    def survivors(self, ranked):
        return list(ranked[: self.width])


class RandomBaseline(Strategy):
    """Adds one random remaining pool item per step (seeded by ``(seed, step)``): random sets of equal size
    (never stopped by ``min_delta``, so that baselines have the size of the search they are compared with)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def propose(self, step, beams, pool_ids, history):
        beam = beams[0]
        remaining = [(pos, i) for pos, i in enumerate(pool_ids) if i not in set(beam.candidate.demo_ids)]
        if not remaining:
            return []
        position, demo_id = random.Random(f"{self.seed}:{step}").choice(remaining)
        return [_proposal(beam, 0, demo_id, position)]

    def survivors(self, ranked):
        return list(ranked[:1])


class OneShotRanking(Strategy):
    """Scores every pool item once against the base set (step 1), then adds them in that order.

    Like the paper's "greedy top-N" prompt sets: step 1 is a full greedy step; each later step evaluates a
    single set, the previous one plus the next-best item of step 1's ranking. Never stopped by ``min_delta``.
    """

    def propose(self, step, beams, pool_ids, history):
        if step == 1:
            return BeamSearch(1).propose(step, beams, pool_ids, history)
        beam = beams[0]
        chosen = set(beam.candidate.demo_ids)
        positions = {demo_id: pos for pos, demo_id in enumerate(pool_ids)}
        for ranked in history[0]:
            demo_id = ranked.candidate.added
            if demo_id is not None and demo_id not in chosen and demo_id in positions:
                return [_proposal(beam, 0, demo_id, positions[demo_id])]
        return []

    def survivors(self, ranked):
        return list(ranked[:1])
