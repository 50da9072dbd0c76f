"""Upper confidence bounds on the mean of paired score differences, for racing (``demo_search.search.racing``).

The bound, and why: each difference ``d = s_candidate - s_leader`` on one prompt lies in ``[-w, w]`` where ``w``
is the width of the scorer's score range (exact match ``[0, 1]``, judge ratings ``[1, 10]``), so ``x = (d + w) /
2w`` lies in ``[0, 1]`` and the candidate is worse than the leader when ``E[x] < 1/2``. Two bounds valid for any
``[0, 1]``-bounded independent variables are computed, each at half the error probability, and the smaller is used
(a union bound, so the result holds with probability ``>= 1 - delta``):

* **Chernoff-Hoeffding (KL)**: the largest ``q`` with ``n kl(mean, q) <= log(2/delta)`` (Hoeffding 1963, Thm 1).
  It is tight at the extremes: a candidate worse than the leader on every prompt is dropped after about
  ``log2(1/delta)`` prompts, which no variance-based bound achieves.
* **Predictable plug-in empirical Bernstein** (Waudby-Smith and Ramdas 2023, "Estimating means of bounded random
  variables by betting", the one-sided fixed-``n`` form): ``(sum l_i x_i + log(2/delta) + sum v_i psi(l_i)) /
  sum l_i`` with ``v_i = 4 (x_i - m_{i-1})^2``, ``psi(l) = (-log(1 - l) - l) / 4`` and ``l_i`` chosen from the
  running variance of the earlier differences. Pairing removes what the prompts share (a hard prompt is hard for
  every candidate), so the differences vary far less than the score range; this bound adapts to that variance,
  without Maurer and Pontil's ``7 log(2/delta) / 3(n-1)`` term that keeps the classic empirical Bernstein bound
  above the range for the few dozen prompts a step has.

A paired-t bound was not used: it assumes normal differences, which 0/1 exact-match or 1..10 ratings on a few
prompts are not (a candidate that lost the first 8 prompts has zero sample variance), so its error probability
is not controlled; both bounds above need only the known range. The order of the differences matters for the
second bound: it is the race's seeded prompt order, so the bound is a deterministic function of the stored scores.
Everything here is vectorised over candidates (numpy), so the benchmark runs the driver's exact rule.
"""

from __future__ import annotations

import math

import numpy as np

BISECTION_STEPS = 60
BETTING_CAP = 0.75
"""The largest bet ``l_i`` (Waudby-Smith and Ramdas suggest 1/2 or 3/4; the larger cap narrows the bound for the
few dozen prompts of a step, where the cap, not the variance, limits the bets)."""


def _kl_bernoulli(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    eps = 1e-15
    p = np.clip(p, 0.0, 1.0)
    q = np.clip(q, eps, 1 - eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / q), 0.0)
        b = np.where(p < 1, (1 - p) * np.log(np.where(p < 1, 1 - p, 1.0) / (1 - q)), 0.0)
    return a + b


def kl_upper(mean: np.ndarray, n: np.ndarray, log_term: float) -> np.ndarray:
    """The largest ``q`` in ``[mean, 1]`` with ``n kl(mean, q) <= log_term`` (by bisection); ``1`` where ``n == 0``."""
    mean = np.asarray(mean, dtype=float)
    n = np.asarray(n, dtype=float)
    low, high = mean.copy(), np.ones_like(mean)
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        inside = n * _kl_bernoulli(mean, middle) <= log_term
        low = np.where(inside, middle, low)
        high = np.where(inside, high, middle)
    return np.where(n > 0, high, 1.0)


def betting_upper(x: np.ndarray, valid: np.ndarray, log_term: float) -> np.ndarray:
    """The predictable plug-in empirical-Bernstein upper bound on the mean of each row of ``x`` (values in
    ``[0, 1]``, in the order given; only entries where ``valid`` count); ``1`` for rows without entries."""
    rows, columns = x.shape
    n = valid.sum(axis=1).astype(float)
    count = np.zeros(rows)
    total = np.zeros(rows)
    squares = np.zeros(rows)
    running_mean = np.full(rows, 0.5)
    running_var = np.full(rows, 0.25)
    weighted = np.zeros(rows)
    bets = np.zeros(rows)
    penalty = np.zeros(rows)
    for column in range(columns):
        here = valid[:, column]
        value = np.where(here, x[:, column], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            bet = np.minimum(np.sqrt(2 * log_term / (np.maximum(n, 1) * running_var)), BETTING_CAP)
        bet = np.where(here, bet, 0.0)
        v = 4 * (value - running_mean) ** 2
        psi = (-np.log1p(-bet) - bet) / 4
        weighted += bet * value
        bets += bet
        penalty += np.where(here, v * psi, 0.0)
        count += here
        total += value
        new_mean = (0.5 + total) / (count + 1)
        squares += np.where(here, (value - new_mean) ** 2, 0.0)
        running_mean = np.where(here, new_mean, running_mean)
        running_var = np.where(here, (0.25 + squares) / (count + 1), running_var)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (weighted + log_term + penalty) / bets
    return np.where(bets > 0, np.minimum(bound, 1.0), 1.0)


def difference_upper_bounds(differences: np.ndarray, *, width: float, delta: float) -> np.ndarray:
    """Per row of ``differences`` (candidates x prompts, NaN where a pair has no score; values in ``[-width,
    width]``), an upper bound on the expected difference that holds with probability ``>= 1 - delta`` (see the
    module docstring). A row with fewer than two pairs gets ``width`` (no evidence)."""
    if width <= 0:
        raise ValueError(f"the score range must have a positive width, got {width}")
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    differences = np.atleast_2d(np.asarray(differences, dtype=float))
    valid = ~np.isnan(differences)
    x = np.clip(np.where(valid, (differences + width) / (2 * width), 0.0), 0.0, 1.0)
    n = valid.sum(axis=1)
    mean = np.where(n > 0, x.sum(axis=1) / np.maximum(n, 1), 0.5)
    log_term = math.log(2 / delta)
    upper = np.minimum(kl_upper(mean, n, log_term), betting_upper(x, valid, log_term))
    return np.where(n >= 2, upper * 2 * width - width, width)


__all__ = ["betting_upper", "difference_upper_bounds", "kl_upper"]
