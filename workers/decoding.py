"""Decoding parameters: one flat, validated value shared by every engine, and the ranges its numbers must lie in.

``DECODING_RANGES`` is the one statement of those ranges: ``DecodingParams`` checks them, the configuration's
``decoding`` section and ``tuning.ranges`` check against them, and their messages come from ``NumberRange``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class NumberRange:
    """An interval ``low .. high`` (``None``: unbounded) whose ends are included unless ``*_open``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        if isinstance(value, float) and math.isnan(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or (value < self.high or (not self.high_open and value == self.high))

    def describe(self) -> str:
        """``'in (0, 1]'``, ``'>= 0'``, ``'> 0'``: what a value must be."""
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return "a number"

    def problem(self, name: str, value: float) -> str | None:
        """``"top_p must be in (0, 1], got 1.5"`` when ``value`` is outside, else ``None``."""
        return None if self.contains(value) else f"{name} must be {self.describe()}, got {value}"


DECODING_RANGES: Mapping[str, NumberRange] = {
    "temperature": NumberRange(low=0.0),
    "top_p": NumberRange(low=0.0, high=1.0, low_open=True),
    "top_k": NumberRange(low=0),
    "repetition_penalty": NumberRange(low=0.0, low_open=True),
    "max_tokens": NumberRange(low=1),
}
"""The allowed values of each numeric decoding parameter (``top_k == 0`` disables top-k)."""


@dataclass(frozen=True)
class DecodingParams:
    """Sampling settings for ``Engine.generate``.

    ``temperature == 0`` means greedy decoding. ``top_k == 0`` disables top-k. ``stop`` strings end an
    answer and are not included in its text. ``stop_token_ids`` end an answer when one of them is sampled,
    like the model's EOS: the answer's ``finish_reason`` is ``"stop"``, its token ids end with that id and its
    text does not hold it. They are how an answer ends at a control token such as a chat template's
    end-of-turn (``<|im_end|>``), whose text engines leave out when they decode. With ``seed`` set, sampled
    answers are reproducible for the same engine and inputs. Numbers must lie in ``DECODING_RANGES``.
    """

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None
    stop_token_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name, allowed in DECODING_RANGES.items():
            problem = allowed.problem(name, getattr(self, name))
            if problem:
                raise ValueError(problem)
        if any(not s for s in self.stop):
            raise ValueError("stop strings must not be empty")
        object.__setattr__(self, "stop", tuple(self.stop))
        bad_ids = [i for i in self.stop_token_ids if isinstance(i, bool) or not isinstance(i, int) or i < 0]
        if bad_ids:
            raise ValueError(f"stop_token_ids must be token ids (integers >= 0), got {bad_ids[0]!r}")
        object.__setattr__(self, "stop_token_ids", tuple(self.stop_token_ids))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def with_stop(self, *extra: str) -> DecodingParams:
        """These parameters with ``extra`` stop strings added after the own ones (each string once, order kept)."""
        return DecodingParams(**{**self.__dict__, "stop": tuple(dict.fromkeys((*self.stop, *extra)))})

    def with_stop_token_ids(self, *extra: int) -> DecodingParams:
        """These parameters with ``extra`` stop token ids added after the own ones (each id once, order kept)."""
        ids = tuple(dict.fromkeys((*self.stop_token_ids, *extra)))
        return DecodingParams(**{**self.__dict__, "stop_token_ids": ids})
