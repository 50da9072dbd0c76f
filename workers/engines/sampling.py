"""Choosing the next token of a batch of requests, and finding stop strings in generated text.

The logits pipeline is transformers' own (``RepetitionPenaltyLogitsProcessor``, ``TemperatureLogitsWarper``,
``TopKLogitsWarper``, ``TopPLogitsWarper``, in the order ``generate`` applies them); only the final draw is
done here, with one ``torch.Generator`` per request so that a seeded request gets the same answer whatever
else shares its batch.
"""

from __future__ import annotations

import hashlib

import torch
from transformers import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from workers.decoding import DecodingParams


def request_seed(seed: int, branch_id: str, leaf_id: str) -> int:
    """A 63-bit seed for one request, stable across processes (unlike ``hash``) and independent of batching."""
    digest = hashlib.sha256(f"{seed}\x00{branch_id}\x00{leaf_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


class TokenChooser:
    """Turns the last-position logits of a batch into next tokens, following ``DecodingParams``.

    ``history`` holds, per row, every token of the request so far (prompt and generated): the repetition
    penalty applies to all of them, as in transformers and vLLM. Rows may be padded with any token that
    already occurs in the same row (the penalty depends only on the set of tokens).
    """

    def __init__(self, params: DecodingParams) -> None:
        self._greedy = params.greedy
        processors = LogitsProcessorList()
        if params.repetition_penalty != 1.0:
            processors.append(RepetitionPenaltyLogitsProcessor(params.repetition_penalty))
        if not params.greedy:
            if params.temperature != 1.0:
                processors.append(TemperatureLogitsWarper(params.temperature))
            if params.top_k > 0:
                processors.append(TopKLogitsWarper(params.top_k))
            if params.top_p < 1.0:
                processors.append(TopPLogitsWarper(params.top_p))
        self._processors = processors

    def __call__(
        self, history: torch.Tensor, logits: torch.Tensor, generators: list[torch.Generator | None]
    ) -> torch.Tensor:
        """Next token per row: ``history`` is (rows, length), ``logits`` (rows, vocab); one generator per row."""
        scores = self._processors(history, logits.float())
        if self._greedy:
            return scores.argmax(dim=-1)
        probs = scores.softmax(dim=-1)
        picks = [torch.multinomial(probs[row], 1, generator=gen) for row, gen in enumerate(generators)]
        return torch.cat(picks)


def find_stop(text: str, stops: tuple[str, ...]) -> int | None:
    """Index of the earliest occurrence of any stop string in ``text``, or ``None``."""
    found = [index for index in (text.find(stop) for stop in stops) if index >= 0]
    return min(found) if found else None
