"""B6, racing with simulated scorers: does racing keep its error probability, and what does it save?

No model and no database: each seed draws a pool of candidates with known true means and their per-prompt scores,
and runs the driver's own race (``demo_search.search.racing.race``) on them. Given every score at once, the race
reads only what a driver would have computed (each contender the first prompts of the seeded order its round
needs), so the evaluations it would have paid are the prompts each eliminated candidate saw plus every prompt for
the candidates that stayed.

Score models, per seed: candidate ``c`` has true mean ``mu_c`` in ``[0.25, 0.75]`` (drawn from the pool shape);
prompt ``p`` has a difficulty ``b_p`` shared by every candidate (mean zero, so ``mu_c`` is the candidate's
expected score on a new prompt), and every score lies in the range ``[0, 1]`` the race is told.

* graded (a judge-like score): ``mu_c + b_p + e_cp`` with ``b_p, e_cp ~ U[-0.125, 0.125]`` independent;
* exact match (0/1, the hardest case for a bounded test: all mass at the ends): ``1`` with probability
  ``mu_c + b_p``, ``b_p ~ U[-0.25, 0.25]``.

Pool shapes (graded unless named ``em_``):

* ``spread``: ``mu_c ~ U[0.25, 0.75]``;
* ``few_good``: 95% of the pool ``U[0.25, 0.45]``, 5% ``U[0.55, 0.75]`` (a pool that is mostly unhelpful);
* ``close``: ``mu_c ~ U[0.65, 0.75]`` (every candidate within 0.1 of the best);
* ``em_spread``: ``spread`` with exact-match scores;
* ``em_ties``: exact match, 10% of the pool exactly as good as the best (``mu = 0.75``), the rest ``U[0.25,
  0.75]``: every one of the tied sets that racing drops is a wrong elimination.

Reported per shape over the seeds: how often racing chose a candidate whose true mean is more than ``epsilon``
below the best (and how often the exhaustive step did, on the same scores: with 80 prompts, exact-match noise alone
makes it choose such a set now and then, racing or not), how often racing and exhaustive chose differently, and
what ``delta`` bounds: for each truly best set (true mean equal to the best), the probability that racing drops it
(the share of the best sets dropped, averaged over seeds), and how often racing dropped every best set. Then the
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
"""Half-width of the prompt difficulty and of the per-pair noise of graded scores."""
EXACT_MATCH_DIFFICULTY = 0.25
"""Half-width of the prompt difficulty of exact-match scores."""
SHAPES = ("spread", "few_good", "close", "em_spread", "em_ties")


def true_means(shape: str, candidates: int, rng: np.random.Generator) -> np.ndarray:
    if shape in ("spread", "em_spread"):
        return rng.uniform(0.25, 0.75, candidates)
    if shape == "em_ties":
        tied = rng.random(candidates) < 0.1
        return np.where(tied, 0.75, rng.uniform(0.25, 0.75, candidates))
    if shape == "few_good":
        good = rng.random(candidates) < 0.05
        return np.where(good, rng.uniform(0.55, 0.75, candidates), rng.uniform(0.25, 0.45, candidates))
    if shape == "close":
        return rng.uniform(0.65, 0.75, candidates)
    raise ValueError(f"unknown pool shape {shape!r}; choose from {', '.join(SHAPES)}")


def draw_scores(shape: str, means: np.ndarray, prompts: int, rng: np.random.Generator) -> np.ndarray:
    """Candidates x prompts scores in [0, 1] whose expectation over prompts is each candidate's mean."""
    if shape.startswith("em_"):
        chance = means[:, None] + rng.uniform(-EXACT_MATCH_DIFFICULTY, EXACT_MATCH_DIFFICULTY, prompts)[None, :]
        return (rng.random((len(means), prompts)) < chance).astype(float)
    difficulty = rng.uniform(-EFFECT, EFFECT, prompts)
    return means[:, None] + difficulty[None, :] + rng.uniform(-EFFECT, EFFECT, (len(means), prompts))


@dataclass(frozen=True)
class Trial:
    """One seed: whether each choice was epsilon-bad, the share of the best sets racing dropped (and whether it
    dropped them all), whether the choices differ, and the evaluations paid."""

    racing_bad: bool
    exhaustive_bad: bool
    best_dropped: float
    every_best_dropped: bool
    differs: bool
    evaluations: int
    exhaustive: int


def run_trial(shape: str, seed: int, *, candidates: int, prompts: int, settings: RaceSettings, epsilon: float) -> Trial:
    rng = np.random.default_rng(seed)
    means = true_means(shape, candidates, rng)
    scores = draw_scores(shape, means, prompts, rng)
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
    best = means.max()
    dropped = np.zeros(candidates, dtype=bool)
    dropped[[index[e.key] for e in state.eliminated]] = True
    evaluations = sum(e.prompts for e in state.eliminated) + len(survivors) * prompts
    return Trial(
        racing_bad=bool(means[chosen] < best - epsilon),
        exhaustive_bad=bool(means[exhaustive_choice] < best - epsilon),
        best_dropped=float(np.mean(dropped[means == best])),
        every_best_dropped=bool(np.all(dropped[means == best])),
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
        best_dropped=sum(t.best_dropped for t in trials) / n,
        every_best_dropped=sum(t.every_best_dropped for t in trials) / n,
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
        (r["shape"], r["seeds"], f"{r['racing_bad']:.3f}", f"{r['exhaustive_bad']:.3f}", f"{r['differs']:.3f}",
         f"{r['best_dropped']:.4f}", f"{r['every_best_dropped']:.3f}", f"{r['evaluations']:.0f} ({r['evaluations_min']}-{r['evaluations_max']})",
         r["exhaustive"], f"{r['exhaustive'] / r['evaluations']:.2f}x", f"{r['wall_s']:.0f}")
        for r in results
    ]


HEADERS = ["pool shape", "seeds", "P(racing chose eps-bad)", "P(exhaustive chose eps-bad)", "P(racing != exhaustive)",
           "P(a best set dropped)", "P(every best set dropped)", "evaluations, mean (min-max)", "exhaustive",
           "saved (x fewer)", "wall s"]


def main(args) -> None:
    machine_line = machine()
    results = [run_shape(shape, args) for shape in args.shapes]
    body = "\n".join([
        f"Simulated scorers (module docstring of `benchmarks/b6_racing.py`): {args.candidates} candidates x "
        f"{args.prompts} prompts per step, {args.seeds} seeds per pool shape, scores in [0, 1] (em_: exact match "
        f"0/1); the driver's race "
        f"with delta {args.delta}, first_prompts {args.first_prompts}, round_prompts {args.round_prompts}, greedy "
        f"(one survivor); epsilon {args.epsilon}. What delta bounds: P(a best set dropped) (per best set) and P(every best set "
        "dropped) <= delta. The eps-bad rate of racing stands beside the exhaustive step's on the same scores (a "
        "set the scores favour by chance misleads both).",
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
