"""Leaf segments of several requests, packed into one batch that runs on top of a shared cached context."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LeafBatch:
    """Rows of segments (leaf prompt, plus target when scoring) that follow ``context_length`` cached tokens.

    Segments are right-aligned: padding sits between the cached context and each segment and is masked out,
    so every row ends in the last column (where generation continues, and where target tokens end) and
    every token keeps its true position (``context_length + index in its segment``).

    ``input_ids`` and ``position_ids`` are (rows, width); ``attention_mask`` is (rows, context_length + width).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    lengths: tuple[int, ...]
    context_length: int

    @property
    def rows(self) -> int:
        return len(self.lengths)

    @property
    def width(self) -> int:
        return int(self.input_ids.shape[1])


def pack_leaf_batch(
    segments: Sequence[Sequence[int]], *, context_length: int, pad_id: int, device: torch.device | str
) -> LeafBatch:
    """Pack non-empty ``segments`` right-aligned behind a shared context of ``context_length`` tokens."""
    if not segments or any(len(s) == 0 for s in segments):
        raise ValueError("pack_leaf_batch needs at least one segment and no empty segment")
    lengths = tuple(len(s) for s in segments)
    width = max(lengths)
    input_ids = torch.full((len(segments), width), pad_id, dtype=torch.long)
    attention_mask = torch.ones((len(segments), context_length + width), dtype=torch.long)
    position_ids = torch.empty((len(segments), width), dtype=torch.long)
    for row, (segment, length) in enumerate(zip(segments, lengths, strict=True)):
        pad = width - length
        input_ids[row, pad:] = torch.tensor(list(segment), dtype=torch.long)
        attention_mask[row, context_length : context_length + pad] = 0
        # Padding columns get the first real position; they are masked, so their value only has to be valid.
        position_ids[row] = context_length + (torch.arange(width) - pad).clamp(min=0)
    return LeafBatch(
        input_ids=input_ids.to(device),
        attention_mask=attention_mask.to(device),
        position_ids=position_ids.to(device),
        lengths=lengths,
        context_length=context_length,
    )


def token_histories(
    context_ids: Sequence[int], segments: Sequence[Sequence[int]], *, device: torch.device | str
) -> torch.Tensor:
    """Every token of each row's request so far (context + segment), as a (rows, length) tensor.

    Short rows are filled with the context's first token, which every row already holds, so set-based uses
    (the repetition penalty) see exactly each request's own tokens.
    """
    if not context_ids:
        raise ValueError("token_histories needs a non-empty context")
    width = max(len(s) for s in segments)
    fill = context_ids[0]
    rows = [list(context_ids) + [fill] * (width - len(s)) + list(s) for s in segments]
    return torch.tensor(rows, dtype=torch.long, device=device)
