"""Racing a step's candidates (successive elimination): which are still in contention, and which prompts they need.

The race is a pure function of the scores stored so far (:func:`race`), so a resumed step replays the same
eliminations and asks only for the pairs that are missing. Its rule:

* The step's prompts are put in one seeded order (:func:`prompt_order`), the same for every candidate. Round 1
  needs the first ``first_prompts`` of it from every candidate; each later round needs ``round_prompts`` more,
  from the candidates still in contention only; the last round needs every prompt (:func:`round_sizes`).
* After a round is complete (every contender has a stored evaluation of each of its prompts), the contenders are
  ranked by their mean over those prompts; the ``survivors`` best (the beam width: 1 for greedy) are the leaders.
  Another contender leaves the race when, for *each* leader, the anytime-valid p-value of "its expected paired
  difference to that leader is >= 0" (same prompts, in race order; :mod:`~demo_search.search.race_bounds`) is at
  most the test level: it is confidently worse than ``survivors`` other sets, so it cannot be among the step's
  best. Leaders never leave in the round they lead, so at least ``survivors`` sets always stay.
* Error probability: the test level is ``delta / (survivors * (K - 1))`` for ``K`` racing candidates. Eliminating
  one of the truly best ``survivors`` sets needs a test that rejected wrongly against one of its ``K - 1`` possible
  opponents; each test holds at every prompt count at once (Ville's inequality), so the rounds cost nothing, and
  by the union bound the step drops one of its truly best sets with probability at most ``delta``. Those that stay
  (and always the winner) are scored on every prompt, so the step then chooses as an exhaustive step would among
  them.
* A race item is a prompt that follows no other; when the search asks follow-ups (MT-Bench's turn 2), an item's
  score is the mean of its conversation's scores (the driver computes it, :func:`item_scores`). Evaluations
  without a score (a failed judgement) count as seen but are left out of the pairs.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from demo_search.search.race_bounds import p_values
from demo_search.types import HeldOutPrompt

ItemScores = Mapping[str, Mapping[str, float | None]]
"""Per candidate key: the race items it has been evaluated on, each with its score (``None``: no usable score)."""


@dataclass(frozen=True)
class RaceSettings:
    """``strategy.racing`` with the scorer's score range, how many sets survive a step (the beam width) and the
    search's seed (which shuffles each step's prompt order)."""

    delta: float
    first_prompts: int
    round_prompts: int
    score_range: tuple[float, float]
    survivors: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        low, high = self.score_range
        if not high > low:
            raise ValueError(f"the score range must be (low, high) with high > low, got {self.score_range}")
        if not 0 < self.delta < 1:
            raise ValueError(f"delta must be in (0, 1), got {self.delta}")
        if self.first_prompts < 1 or self.round_prompts < 1 or self.survivors < 1:
            raise ValueError("first_prompts, round_prompts and survivors must be >= 1")

    @property
    def width(self) -> float:
        return self.score_range[1] - self.score_range[0]


@dataclass(frozen=True)
class Elimination:
    """A candidate that left the race: after ``round`` (having seen the first ``prompts`` items of the order), its
    ``p_value`` (the largest of its anytime-valid p-values against each of ``leaders``) was at most ``level``;
    ``difference`` is its mean paired difference to the first leader on those items."""

    key: str
    round: int
    prompts: int
    leaders: tuple[str, ...]
    p_value: float
    level: float
    difference: float


@dataclass(frozen=True)
class RaceState:
    """Where a step's race stands. ``needed`` maps each contender that lacks items of round ``round`` to those
    items (in race order); ``finished`` when every contender has every item (then ``needed`` is empty)."""

    round: int
    order: tuple[str, ...]
    contenders: tuple[str, ...]
    eliminated: tuple[Elimination, ...]
    needed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    finished: bool = False

    def summary(self, candidates: int, evaluations: int, exhaustive: int, settings: RaceSettings) -> dict[str, Any]:
        """The race as JSON for the step record: settings, rounds, evaluations against an exhaustive step, and per
        eliminated candidate its round, the items it saw (the first ``prompts`` of ``order``) and its test."""
        return {
            "delta": settings.delta,
            "first_prompts": settings.first_prompts,
            "round_prompts": settings.round_prompts,
            "score_range": list(settings.score_range),
            "order": list(self.order),
            "rounds": self.round,
            "candidates": candidates,
            "survivors": len(self.contenders),
            "evaluations": evaluations,
            "exhaustive_evaluations": exhaustive,
            "saved_evaluations": max(0, exhaustive - evaluations),
            "eliminated": [
                {"set_key": e.key, "round": e.round, "prompts": e.prompts, "leaders": list(e.leaders),
                 "p_value": e.p_value, "level": e.level, "difference": e.difference}
                for e in self.eliminated
            ],
        }


def prompt_order(item_ids: Sequence[str], *, seed: int, step: int) -> tuple[str, ...]:
    """The race order of a step's items: shuffled by ``(seed, step)``, the same for every candidate and resume."""
    order = list(item_ids)
    random.Random(f"racing:{seed}:{step}").shuffle(order)
    return tuple(order)


def round_sizes(items: int, settings: RaceSettings) -> tuple[int, ...]:
    """How many items of the order each round needs: ``first_prompts``, then ``round_prompts`` more each round,
    capped at ``items`` (the last round needs them all)."""
    sizes = [min(settings.first_prompts, items)]
    while sizes[-1] < items:
        sizes.append(min(sizes[-1] + settings.round_prompts, items))
    return tuple(sizes)


def race(
    candidates: Sequence[str], scores: ItemScores, order: Sequence[str], settings: RaceSettings
) -> RaceState:
    """Replay the race of ``candidates`` (keys, in the step's proposal order, which breaks ties of the mean) over
    ``order`` from the stored ``scores``; see the module docstring for the rule."""
    order = tuple(order)
    sizes = round_sizes(len(order), settings)
    level = settings.delta / (settings.survivors * max(1, len(candidates) - 1))
    contenders = list(candidates)
    eliminated: list[Elimination] = []
    round_index = 0
    while True:
        size = sizes[round_index]
        if len(contenders) <= settings.survivors:
            size = len(order)  # no one can be eliminated any more: the survivors need every item now
        items = order[:size]
        needed = {c: missing for c in contenders if (missing := tuple(i for i in items if i not in scores.get(c, {})))}
        state = RaceState(round_index + 1, order, tuple(contenders), tuple(eliminated), needed, False)
        if needed:
            return state
        if size == len(order):
            return RaceState(round_index + 1, order, tuple(contenders), tuple(eliminated), {}, True)
        dropped = _eliminate(contenders, scores, items, settings, level, round_index + 1)
        eliminated.extend(dropped)
        gone = {e.key for e in dropped}
        contenders = [c for c in contenders if c not in gone]
        round_index += 1


def _eliminate(
    contenders: Sequence[str],
    scores: ItemScores,
    items: Sequence[str],
    settings: RaceSettings,
    level: float,
    round_number: int,
) -> list[Elimination]:
    """The contenders that are confidently worse than each of the round's leaders."""
    matrix = np.array(
        [[np.nan if (s := scores[c][i]) is None else s for i in items] for c in contenders], dtype=float
    )
    scored = (~np.isnan(matrix)).sum(axis=1)
    means = np.where(scored > 0, np.nansum(matrix, axis=1) / np.maximum(scored, 1), -np.inf)
    ranking = sorted(range(len(contenders)), key=lambda k: (-means[k], k))
    leaders = ranking[: settings.survivors]
    chosen = set(leaders)
    others = np.array([k for k in range(len(contenders)) if k not in chosen], dtype=int)
    if others.size == 0:
        return []
    worst = np.stack([p_values(matrix[others] - matrix[leader], width=settings.width) for leader in leaders]).max(axis=0)
    with np.errstate(invalid="ignore"):
        first = matrix[others] - matrix[leaders[0]]
        counts = (~np.isnan(first)).sum(axis=1)
        differences = np.where(counts > 0, np.nansum(first, axis=1) / np.maximum(counts, 1), np.nan)
    return [
        Elimination(
            key=contenders[k],
            round=round_number,
            prompts=len(items),
            leaders=tuple(contenders[leader] for leader in leaders),
            p_value=float(worst[j]),
            level=level,
            difference=float(differences[j]),
        )
        for j, k in enumerate(others)
        if worst[j] <= level
    ]


def conversation_roots(prompts: Sequence[HeldOutPrompt]) -> dict[str, str]:
    """Each prompt's race item: the prompt its conversation starts with (itself when it follows no other)."""
    by_id = {prompt.id: prompt for prompt in prompts}

    def root(prompt: HeldOutPrompt) -> str:
        seen = set()
        while prompt.follows is not None and prompt.follows in by_id and prompt.id not in seen:
            seen.add(prompt.id)
            prompt = by_id[prompt.follows]
        return prompt.id

    return {prompt.id: root(prompt) for prompt in prompts}


def item_scores(
    evaluations: Mapping[str, float | None], root_of: Mapping[str, str]
) -> dict[str, float | None]:
    """A candidate's race-item scores from its stored evaluations (prompt id to score): an item is seen when its
    own prompt is evaluated; its score is the mean of the scores of its conversation (``root_of`` maps every
    prompt to the item it belongs to), ``None`` when none of them has a score."""
    grouped: dict[str, list[float]] = {}
    for prompt_id, score in evaluations.items():
        root = root_of.get(prompt_id)
        if root is None:
            continue
        grouped.setdefault(root, [])
        if score is not None:
            grouped[root].append(score)
    return {
        root: (sum(values) / len(values) if values else None)
        for root, values in grouped.items()
        if root in evaluations
    }


__all__ = [
    "Elimination",
    "ItemScores",
    "RaceSettings",
    "RaceState",
    "conversation_roots",
    "item_scores",
    "prompt_order",
    "race",
    "round_sizes",
]
