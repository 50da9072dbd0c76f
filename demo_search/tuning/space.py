"""What decoding tuning searches: the tuned parameters' ranges, and the settings every study tries first.

The search's own ``decoding`` parameters are the *base*: a trial changes only the tuned parameters and keeps the
others (stop strings, seed, untuned ones) at their base values. The first trials are the base itself and, unless
turned off, the paper's two URIAL settings (t=0 with repetition penalty 1.15 for dense models, t=0.5 with 1.0 for
mixtures of experts) with every other tuned parameter at its base value. Since the study's best trial is the best
completed one, tuning can never end below any of them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from demo_search.config import TuningRanges
from workers.decoding import DecodingParams

if TYPE_CHECKING:
    import optuna

logger = logging.getLogger(__name__)

TUNABLE: tuple[str, ...] = ("temperature", "top_p", "top_k", "repetition_penalty", "max_tokens")
"""Every decoding parameter tuning can search, in the order trials suggest them."""

INTEGER_PARAMS = frozenset({"top_k", "max_tokens"})

SEARCH_SETTINGS = "decoding"
"""Label of the first trial: the search's own decoding parameters (its score is the tuning's baseline)."""

URIAL_SETTINGS: tuple[tuple[str, Mapping[str, float]], ...] = (
    ("urial-dense", {"temperature": 0.0, "repetition_penalty": 1.15}),
    ("urial-moe", {"temperature": 0.5, "repetition_penalty": 1.0}),
)
"""URIAL's decoding settings (Lin et al., 2024), as the paper reports them."""

ParamValue = float | int


@dataclass(frozen=True)
class ParamRange:
    """One tuned parameter, searched over ``[low, high]`` (integers for ``top_k`` and ``max_tokens``)."""

    name: str
    low: ParamValue
    high: ParamValue

    @property
    def integer(self) -> bool:
        return self.name in INTEGER_PARAMS

    def suggest(self, trial: optuna.Trial) -> ParamValue:
        """The trial's value: its enqueued one when it has one, else the sampler's."""
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high))
        return trial.suggest_float(self.name, float(self.low), float(self.high))

    def cast(self, value: ParamValue) -> ParamValue:
        return int(value) if self.integer else float(value)

    def contains(self, value: ParamValue) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class FirstTrial:
    """A setting tried before any is sampled; ``label`` names it in the study (see ``SEARCH_SETTINGS``)."""

    label: str
    params: Mapping[str, ParamValue]


@dataclass(frozen=True)
class SearchSpace:
    """The tuned parameters' ranges around ``base``, the search's own decoding parameters."""

    ranges: tuple[ParamRange, ...]
    base: DecodingParams

    @classmethod
    def from_config(cls, ranges: TuningRanges, base: DecodingParams) -> SearchSpace:
        """The parameters of ``ranges`` that are not null, in ``TUNABLE`` order."""
        chosen = tuple(
            ParamRange(name, interval.low, interval.high)
            for name in TUNABLE
            if (interval := getattr(ranges, name)) is not None
        )
        return cls(chosen, base)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.ranges)

    @property
    def longest_answer(self) -> int:
        """The most tokens a trial may generate: ``max_tokens``, or its range's ``high`` when it is tuned."""
        return max([self.base.max_tokens, *(int(r.high) for r in self.ranges if r.name == "max_tokens")])

    def suggest(self, trial: optuna.Trial) -> dict[str, ParamValue]:
        """The tuned parameters' values for ``trial``."""
        return {r.name: r.suggest(trial) for r in self.ranges}

    def decoding(self, params: Mapping[str, ParamValue]) -> DecodingParams:
        """The base parameters with those named in ``params`` replaced (any of ``TUNABLE``, so a trial of an
        earlier run that tuned other parameters still reads back)."""
        unknown = sorted(set(params) - set(TUNABLE))
        if unknown:
            known = ", ".join(TUNABLE)
            raise ValueError(f"not decoding parameters tuning knows: {', '.join(unknown)} (known: {known})")
        return dataclasses.replace(self.base, **params)

    def first_trials(self, *, urial_settings: bool) -> tuple[FirstTrial, ...]:
        """The base setting, then (with ``urial_settings``) URIAL's two; a setting equal to an earlier one is
        dropped. A setting outside a range is still tried (it is what it is compared with), with a warning."""
        settings = [(SEARCH_SETTINGS, {}), *(URIAL_SETTINGS if urial_settings else ())]
        trials: list[FirstTrial] = []
        for label, overrides in settings:
            params = {r.name: r.cast(overrides.get(r.name, getattr(self.base, r.name))) for r in self.ranges}
            same = next((t for t in trials if t.params == params), None)
            if same is not None:
                logger.info("the %s setting equals the %s setting on the tuned parameters: tried once", label,
                            same.label)
                continue
            outside = [f"{r.name}={params[r.name]:g} not in [{r.low:g}, {r.high:g}]" for r in self.ranges
                       if not r.contains(params[r.name])]
            if outside:
                logger.warning("the %s setting lies outside tuning.ranges (%s); it is tried anyway", label,
                               "; ".join(outside))
            trials.append(FirstTrial(label, params))
        return tuple(trials)


__all__ = ["INTEGER_PARAMS", "SEARCH_SETTINGS", "TUNABLE", "URIAL_SETTINGS", "FirstTrial", "ParamRange", "SearchSpace"]
