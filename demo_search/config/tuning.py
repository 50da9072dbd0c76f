"""The ``tuning`` section: which decoding parameters the Optuna study searches, over which ranges, and how."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictFloat, model_validator

from demo_search.config.base import NonNegativeInt, PositiveInt, Section, cross_field, section
from workers.decoding import DECODING_RANGES


class FloatRange(Section):
    """A closed interval ``[low, high]`` of a real decoding parameter searched by ``tuning``."""

    low: Annotated[StrictFloat, Field(allow_inf_nan=False)]
    high: Annotated[StrictFloat, Field(allow_inf_nan=False)]


class IntRange(Section):
    """A closed interval ``[low, high]`` of an integer decoding parameter searched by ``tuning``."""

    low: NonNegativeInt
    high: NonNegativeInt


class TuningRanges(Section):
    """The decoding parameters ``tuning`` searches, each over ``{low, high}``; null leaves one at its
    ``decoding`` value."""

    temperature: FloatRange | None = Field(default_factory=lambda: FloatRange(low=0.0, high=1.5))
    top_p: FloatRange | None = Field(default_factory=lambda: FloatRange(low=0.5, high=1.0))
    repetition_penalty: FloatRange | None = Field(default_factory=lambda: FloatRange(low=1.0, high=1.5))
    top_k: IntRange | None = Field(None, description="e.g. {low: 0, high: 100}; 0 disables top-k")
    max_tokens: IntRange | None = Field(None, description="e.g. {low: 64, high: 512}")

    @model_validator(mode="after")
    def _ranges_are_valid(self) -> TuningRanges:
        problems = []
        names = type(self).model_fields
        for name in names:
            interval = getattr(self, name)
            if interval is None:
                continue
            path = f"tuning.ranges.{name}"
            allowed = DECODING_RANGES[name]
            problems += [f"{path}.{end} must be {allowed.describe()}, got {value:g}"
                         for end, value in (("low", interval.low), ("high", interval.high))
                         if not allowed.contains(value)]
            if interval.high <= interval.low:
                problems.append(f"{path}.high must be > {path}.low ({interval.low:g}), got {interval.high:g}")
        if all(getattr(self, name) is None for name in names):
            problems.append("tuning.ranges leaves every parameter out (all null); give at least one a {low, high}")
        cross_field(problems)
        return self


class TuningConfig(Section):
    """Decoding-parameter tuning (Optuna, seeded TPE) of the best demonstration set on the held-out prompts.

    The ``decoding`` section's values (and, with ``urial_settings``, URIAL's t=0 / rp=1.15 and t=0.5 / rp=1.0)
    are the first trials, so the tuned parameters never score below them.
    """

    enabled: StrictBool = Field(False, description="tune automatically after the search finishes")
    n_trials: PositiveInt = Field(30, description="completed trials the study ends with")
    parallel_trials: PositiveInt | None = Field(
        None, description="trials evaluated at once, one work unit each; null means workers.count (4 when it is auto)"
    )
    seed: NonNegativeInt | None = Field(None, description="the sampler's seed; null means the search's seed")
    startup_trials: NonNegativeInt = Field(10, description="completed trials before TPE stops sampling at random")
    urial_settings: StrictBool = Field(True, description="also try URIAL's two decoding settings first")
    ranges: TuningRanges = section()

    @property
    def enqueued_trials(self) -> int:
        """How many settings are tried before any is sampled (at most: equal settings are tried once)."""
        return 3 if self.urial_settings else 1

    @model_validator(mode="after")
    def _room_for_enqueued_trials(self) -> TuningConfig:
        if self.n_trials < self.enqueued_trials:
            what = ("the decoding section's settings and URIAL's two" if self.urial_settings
                    else "the decoding section's")
            cross_field([f"tuning.n_trials must be >= {self.enqueued_trials} ({what} run first), got {self.n_trials}"])
        return self
