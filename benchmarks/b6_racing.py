"""B6, racing with simulated scorers: does racing keep its error probability, and what does it save?

No model and no database: each seed draws a pool of candidates with known true means and their per-prompt scores,
and runs the driver's own race (``demo_search.search.racing.race``) on them. Given every score at once, the race
reads only what a driver would have computed (each contender the first prompts of the seeded order its round
needs), so the evaluations it would have paid are the prompts each eliminated candidate saw plus every prompt for
the candidates that stayed.

Score model, per seed: candidate ``c`` has true mean ``mu_c`` (drawn from the pool shape); prompt ``p`` has a
difficulty ``b_p ~ U[-0.125, 0.125]`` shared by every candidate; the score is ``mu_c + b_p + e_cp`` with ``e_cp ~
U[-0.125, 0.125]`` independent. Every ``mu_c`` lies in ``[0.25, 0.75]``, so every score lies in the range
``[0, 1]`` the race is told (an exact-match-like range), and the prompts' mean effect is zero, so ``mu_c`` is the
candidate's expected score on a new prompt. Pool shapes:

* ``spread``: ``mu_c ~ U[0.25, 0.75]``;
* ``few_good``: 95% of the pool ``U[0.25, 0.45]``, 5% ``U[0.55, 0.75]`` (a pool that is mostly unhelpful);
* ``close``: ``mu_c ~ U[0.65, 0.75]`` (every candidate within 0.1 of the best).

Reported per shape over the seeds: how often racing chose a candidate whose true mean is more than ``epsilon``
below the best (and how often the exhaustive step did, on the same scores), how often the truly best candidate
was eliminated (the event the race's ``delta`` bounds), how often racing and exhaustive chose differently, and the
evaluations racing paid against ``candidates x prompts``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from benchmarks.report import machine, section, table, write_section
from demo_search.search.racing import RaceSettings, prompt_order, race

logger = logging.getLogger(__name__)

EFFECT = 0.125
"""Half-width of the prompt difficulty and of the per-pair noise."""
SHAPES = ("spread", "few_good", "close")


def true_means(shape: str, candidates: int, rng: np.random.Generator) -> np.ndarray:
    if shape == "spread":
        return rng.uniform(0.25, 0.75, candidates)
    if shape == "few_good":
        good = rng.random(candidates) < 0.05
        return np.where(good, rng.uniform(0.55, 0.75, candidates), rng.uniform(0.25, 0.45, candidates))
    if shape == "close":
        return rng.uniform(0.65, 0.75, candidates)
    raise ValueError(f"unknown pool shape {shape!r}; choose from {', '.join(SHAPES)}")


@dataclass(frozen=True)
class Trial:
    """One seed: whether each choice was epsilon-bad, whether the best was eliminated, the evaluations paid."""

    racing_bad: bool
    exhaustive_bad: bool
    best_eliminated: bool
    differs: bool
    evaluations: int
    exhaustive: int


def run_trial(shape: str, seed: int, *, candidates: int, prompts: int, settings: RaceSettings, epsilon: float) -> Trial:
    rng = np.random.default_rng(seed)
    means = true_means(shape, candidates, rng)
    difficulty = rng.uniform(-EFFECT, EFFECT, prompts)
    scores = means[:, None] + difficulty[None, :] + rng.uniform(-EFFECT, EFFECT, (candidates, prompts))
    keys = [f"c{i}" for i in range(candidates)]
    prompt_ids = [f"p{j}" for j in range(prompts)]
    stored = {key: dict(zip(prompt_ids, row.tolist(), strict=True)) for key, row in zip(keys, scores, strict=True)}
    state = race(keys, stored, prompt_order(prompt_ids, seed=seed, step=1), settings)
    assert state.finished, "every score is given, so the race runs to its end"
    index = {key: i for i, key in enumerate(keys)}
    survivors = [index[key] for key in state.contenders]
    full = scores.mean(axis=1)
    chosen = max(survivors, key=lambda i: (full[i], -i))
    exhaustive_choice = max(range(candidates), key=lambda i: (full[i], -i))
    best = int(np.argmax(means))
    evaluations = sum(e.prompts for e in state.eliminated) + len(survivors) * prompts
    return Trial(
        racing_bad=bool(means[chosen] < means[best] - epsilon),
        exhaustive_bad=bool(means[exhaustive_choice] < means[best] - epsilon),
        best_eliminated=best not in survivors,
        differs=chosen != exhaustive_choice,
        evaluations=evaluations,
        exhaustive=candidates * prompts,
    )


def run_shape(shape: str, args) -> dict:
    settings = RaceSettings(
        delta=args.delta, first_prompts=args.first_prompts, round_prompts=args.round_prompts, score_range=(0.0, 1.0)
    )
    start = time.perf_counter()
    trials = [
        run_trial(shape, seed, candidates=args.candidates, prompts=args.prompts, settings=settings,
                  epsilon=args.epsilon)
        for seed in range(args.seeds)
    ]
    wall = time.perf_counter() - start
    n = len(trials)
    evaluations = np.array([t.evaluations for t in trials], dtype=float)
    exhaustive = trials[0].exhaustive
    result = dict(
        shape=shape,
        seeds=n,
        racing_bad=sum(t.racing_bad for t in trials) / n,
        exhaustive_bad=sum(t.exhaustive_bad for t in trials) / n,
        best_eliminated=sum(t.best_eliminated for t in trials) / n,
        differs=sum(t.differs for t in trials) / n,
        evaluations=float(evaluations.mean()),
        evaluations_min=int(evaluations.min()),
        evaluations_max=int(evaluations.max()),
        exhaustive=exhaustive,
        wall_s=wall,
    )
    logger.info("B6 %s: %s", shape, result)
    return result


def rows_of(results: list[dict]) -> list[tuple]:
    return [
        (r["shape"], r["seeds"], f"{r['racing_bad']:.3f}", f"{r['exhaustive_bad']:.3f}", f"{r['best_eliminated']:.3f}",
         f"{r['differs']:.3f}", f"{r['evaluations']:.0f} ({r['evaluations_min']}-{r['evaluations_max']})",
         r["exhaustive"], f"{r['exhaustive'] / r['evaluations']:.2f}x", f"{r['wall_s']:.0f}")
        for r in results
    ]


HEADERS = ["pool shape", "seeds", "P(racing chose eps-bad)", "P(exhaustive chose eps-bad)", "P(best eliminated)",
           "P(racing != exhaustive)", "evaluations, mean (min-max)", "exhaustive", "saved (x fewer)", "wall s"]


def main(args) -> None:
    machine_line = machine()
    results = [run_shape(shape, args) for shape in args.shapes]
    body = "\n".join([
        f"Simulated scorers (module docstring of `benchmarks/b6_racing.py`): {args.candidates} candidates x "
        f"{args.prompts} prompts per step, {args.seeds} seeds per pool shape, scores in [0, 1]; the driver's race "
        f"with delta {args.delta}, first_prompts {args.first_prompts}, round_prompts {args.round_prompts}, greedy "
        f"(one survivor); epsilon {args.epsilon}. Target: P(racing chose eps-bad) and P(best eliminated) <= delta.",
        "",
        table(HEADERS, rows_of(results)),
    ])
    write_section("b6", section("b6", "B6: racing with simulated scorers", body, machine_line=machine_line))


def add_arguments(parser) -> None:
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--prompts", type=int, default=80)
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--delta", type=float, default=0.05)
    parser.add_argument("--epsilon", type=float, default=0.05)
    parser.add_argument("--first-prompts", type=int, default=8)
    parser.add_argument("--round-prompts", type=int, default=8)
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
