"""Counts what a transformers model is actually fed, independent of the engine's own accounting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class FeedCounts:
    """Token positions run through the model: all of them (``fed``) and the unmasked ones (``real``)."""

    calls: int = 0
    fed: int = 0
    real: int = 0

    @property
    def padding(self) -> int:
        return self.fed - self.real


class FeedCounter:
    """A forward pre-hook on ``model`` adding each call's ``input_ids`` size to ``counts``.

    Real tokens are the ``input_ids`` columns whose attention-mask entry is 1 (the mask also covers the cached
    context, so only its last ``width`` columns are read); a call without a mask counts every position.
    """

    def __init__(self, model: Any) -> None:
        self.counts = FeedCounts()
        self._handle = model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module: Any, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            return
        rows, width = ids.shape
        mask = kwargs.get("attention_mask")
        self.counts.calls += 1
        self.counts.fed += rows * width
        self.counts.real += int(mask[:, -width:].sum()) if mask is not None else rows * width

    def remove(self) -> None:
        self._handle.remove()
