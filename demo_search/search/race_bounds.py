"""The test racing eliminates with: is a candidate's expected paired difference to a leader below zero?

The bound, and why: each difference ``d = s_candidate - s_leader`` on one prompt lies in ``[-w, w]`` where ``w``
is the width of the scorer's score range (exact match ``[0, 1]``, judge ratings ``[1, 10]``), so ``x = (d + w) /
2w`` lies in ``[0, 1]``, and the candidate is worse than the leader when ``E[x] < 1/2``. The test is a *betting*
(e-process) test of ``H0: E[x] >= 1/2`` (Waudby-Smith and Ramdas 2023, "Estimating means of bounded random
variables by betting"): the wealth ``K_n = prod_i (1 + l_i (1/2 - x_i))`` grows while the candidate keeps losing to
the leader. The bets ``l_i`` are *predictable* (computed from the differences before prompt ``i`` only: the
growth-rate-optimal bet ``(1/2 - m) / (v + (1/2 - m)^2)`` for their running mean ``m`` and variance ``v``, kept in
``[0, BET_CAP / (1 - 1/2)]``), so under ``H0`` the wealth is a nonnegative supermartingale, and by Ville's
inequality ``P(K_n >= 1/alpha for some n) <= alpha``: the test holds at every prompt count at once, so a race may
look after every round without paying for the number of rounds. ``1 / max_n K_n`` is an anytime-valid p-value.

It needs nothing but the known range. Pairing removes what the prompts share (a hard prompt is hard for every
candidate), so the differences vary far less than the range, and the optimal bets grow large: the wealth then grows
like ``n (1/2 - E[x])^2 / Var[x]`` rather than the range-bound rate of Hoeffding-type or classical
empirical-Bernstein bounds, whose ``log(1/alpha) / n`` terms keep them above the range for the few dozen prompts of a
step once ``alpha`` is divided among hundreds of candidates. A candidate that loses every prompt is dropped after
about ``log(1/alpha) / log(1.9)`` prompts. A paired-t bound was not used: it assumes normal differences, which 0/1
exact match or 1..10 ratings on a few prompts are not (a candidate that lost the first 8 prompts has zero sample
variance), so its error probability is not controlled.

The order of the differences matters (the bets depend on the past): it is the race's seeded prompt order, so the
test is a deterministic function of the stored scores. Vectorised over candidates (numpy), so the benchmark runs
the driver's exact rule.
"""

from __future__ import annotations

import numpy as np

NULL_MEAN = 0.5
"""``E[x]`` when the candidate and the leader are equally good."""
BET_CAP = 0.9
"""The largest bet as a share of ``1 / (1 - NULL_MEAN)``, the bet at which one prompt could take all the wealth."""


def log_wealth(differences: np.ndarray, *, width: float) -> np.ndarray:
    """Per row of ``differences`` (candidates x prompts in race order, NaN where a pair has no score; values in
    ``[-width, width]``): the largest log-wealth the betting test reached against ``H0: E[difference] >= 0``
    (see the module docstring); 0 for a row without pairs."""
    if width <= 0:
        raise ValueError(f"the score range must have a positive width, got {width}")
    differences = np.atleast_2d(np.asarray(differences, dtype=float))
    valid = ~np.isnan(differences)
    x = np.clip(np.where(valid, (differences + width) / (2 * width), NULL_MEAN), 0.0, 1.0)
    rows = x.shape[0]
    count = np.zeros(rows)
    total = np.zeros(rows)
    squares = np.zeros(rows)
    mean = np.full(rows, NULL_MEAN)
    variance = np.full(rows, 0.25)
    wealth = np.zeros(rows)
    best = np.zeros(rows)
    cap = BET_CAP / (1 - NULL_MEAN)
    for column in range(x.shape[1]):
        here = valid[:, column]
        edge = NULL_MEAN - mean
        bet = np.clip(edge / (variance + edge**2), 0.0, cap)
        value = x[:, column]
        wealth += np.where(here, np.log1p(bet * (NULL_MEAN - value)), 0.0)
        best = np.maximum(best, wealth)
        count += here
        total += np.where(here, value, 0.0)
        new_mean = (NULL_MEAN + total) / (count + 1)
        squares += np.where(here, (value - new_mean) ** 2, 0.0)
        mean = np.where(here, new_mean, mean)
        variance = np.where(here, (0.25 + squares) / (count + 1), variance)
    return best


def p_values(differences: np.ndarray, *, width: float) -> np.ndarray:
    """Anytime-valid p-values of ``H0: E[difference] >= 0`` per row (``1 / max wealth``, at most 1)."""
    return np.exp(-log_wealth(differences, width=width))


__all__ = ["log_wealth", "p_values"]
