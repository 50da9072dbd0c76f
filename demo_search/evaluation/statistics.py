"""Paired comparisons of prompts scored on the same prompts: the mean difference, its standard error and a
confidence interval from Student's t distribution (computed here exactly for integer degrees of freedom, so no
statistics package is needed)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95


def t_central_probability(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with ``df`` >= 1 degrees of freedom and ``t`` >= 0 (the finite series in
    cos² of θ = atan(t/√df): odd ``df`` adds 2θ/π, even ``df`` is the series alone)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    theta = math.atan(t / math.sqrt(df))
    cos2 = math.cos(theta) ** 2
    total = term = 1.0
    if df % 2 == 0:
        for k in range(1, df // 2):
            term *= cos2 * (2 * k - 1) / (2 * k)
            total += term
        return math.sin(theta) * total
    if df == 1:
        return 2 * theta / math.pi
    for k in range(1, (df - 1) // 2):
        term *= cos2 * (2 * k) / (2 * k + 1)
        total += term
    return 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * total)


def t_critical(df: int, confidence: float = CONFIDENCE) -> float:
    """The t with P(|T| < t) = ``confidence`` for ``df`` degrees of freedom (bisection, to 1e-12)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    low, high = 0.0, 1.0
    while t_central_probability(high, df) < confidence:
        low, high = high, high * 2
    while high - low > 1e-12 * max(1.0, high):
        middle = (low + high) / 2
        if t_central_probability(middle, df) < confidence:
            low = middle
        else:
            high = middle
    return (low + high) / 2


@dataclass(frozen=True)
class PairedDifference:
    """``second - first`` over the ``n`` prompts both scored: its mean, standard error and ``confidence``
    interval (paired t, ``n - 1`` degrees of freedom); with fewer than two pairs there is no interval (``None``)."""

    mean: float
    stderr: float | None
    n: int
    low: float | None
    high: float | None
    confidence: float = CONFIDENCE


def paired_difference(
    first: Sequence[float | None], second: Sequence[float | None], confidence: float = CONFIDENCE
) -> PairedDifference | None:
    """The paired difference ``second - first`` over the prompts both scored (``None`` marks a failed one);
    ``None`` when no prompt was scored by both."""
    if len(first) != len(second):
        raise ValueError(f"paired scores need equally many prompts, got {len(first)} and {len(second)}")
    diffs = [b - a for a, b in zip(first, second, strict=True) if a is not None and b is not None]
    n = len(diffs)
    if n == 0:
        return None
    mean = math.fsum(diffs) / n
    if n == 1:
        return PairedDifference(mean, None, 1, None, None, confidence)
    stderr = math.sqrt(math.fsum((d - mean) ** 2 for d in diffs) / (n - 1) / n)
    half = t_critical(n - 1, confidence) * stderr
    return PairedDifference(mean, stderr, n, mean - half, mean + half, confidence)


__all__ = ["CONFIDENCE", "PairedDifference", "paired_difference", "t_central_probability", "t_critical"]
