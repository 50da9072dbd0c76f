"""Token-by-token decoding of a batch of requests that continue from one (batched) key/value cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch
from transformers import DynamicCache, PreTrainedModel

from workers.engines.sampling import TokenChooser, find_stop
from workers.engines.stop_check import stop_in_tail


@dataclass(frozen=True)
class Completion:
    """What one request generated.

    ``token_ids`` are all sampled tokens, including the EOS or stop token id or the token that completed a stop
    string (as vLLM reports them); ``text`` excludes that id and stops before the first stop string.
    ``finish_reason`` is ``"stop"`` (EOS, stop token id or stop string) or ``"length"`` (``max_tokens`` reached).
    """

    token_ids: tuple[int, ...]
    text: str
    finish_reason: str


@dataclass(frozen=True)
class StopRules:
    """When a request ends: ``stop_ids`` (the model's EOS ids and the request's ``stop_token_ids``) are checked
    on each newly sampled id, ``stop`` strings on the decoded text, ``max_tokens`` on the count."""

    max_tokens: int
    stop: tuple[str, ...]
    stop_ids: frozenset[int]


def _finished(generated: list[int], rules: StopRules, detokenize: Callable[[list[int]], str]) -> Completion | None:
    """The completion if ``generated`` (just extended by one token) ends the request, else ``None``.

    Stop strings are looked for in the text the newest token added (``stop_in_tail``): the check before every
    step found none, so the first hit is the same as a search of the whole text at every step would find.
    """
    last = generated[-1]
    if last in rules.stop_ids:
        return Completion(tuple(generated), detokenize(generated[:-1]), "stop")
    if stop_in_tail(generated, rules.stop, detokenize):  # the whole text is decoded only on a hit
        text = detokenize(generated)
        cut = find_stop(text, rules.stop)
        if cut is not None:
            return Completion(tuple(generated), text[:cut], "stop")
    if len(generated) >= rules.max_tokens:
        return Completion(tuple(generated), detokenize(generated), "length")
    return None


def decode_batch(
    model: PreTrainedModel,
    cache: DynamicCache,
    *,
    first_logits: torch.Tensor,
    attention_mask: torch.Tensor,
    next_positions: torch.Tensor,
    histories: torch.Tensor,
    chooser: TokenChooser,
    generators: list[torch.Generator | None],
    rules: StopRules,
    detokenize: Callable[[list[int]], str],
) -> list[Completion]:
    """Generate for every row until it stops; rows that finish leave the batch (and the cache) at once.

    ``first_logits`` (rows, vocab) are the logits after each row's prompt; ``attention_mask`` covers every
    cached column; ``next_positions`` (rows,) is the position id of each row's next token; ``histories``
    (rows, length) holds each row's tokens so far (see ``token_histories``). ``cache`` is consumed.
    """
    rows = first_logits.shape[0]
    generated: list[list[int]] = [[] for _ in range(rows)]
    results: list[Completion | None] = [None] * rows
    active = list(range(rows))  # original row of each current batch row
    logits, mask, positions = first_logits, attention_mask, next_positions
    while True:
        tokens = chooser(histories, logits, [generators[row] for row in active])
        histories = torch.cat([histories, tokens[:, None]], dim=1)
        keep = []
        for slot, (row, token) in enumerate(zip(active, tokens.tolist(), strict=True)):
            generated[row].append(token)
            results[row] = _finished(generated[row], rules, detokenize)
            if results[row] is None:
                keep.append(slot)
        if not keep:
            break
        if len(keep) < len(active):
            index = torch.tensor(keep, device=tokens.device)
            cache.batch_select_indices(index)
            mask, positions, histories, tokens = mask[index], positions[index], histories[index], tokens[index]
            active = [active[slot] for slot in keep]
        mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
        out = model(
            input_ids=tokens[:, None],
            attention_mask=mask,
            position_ids=positions[:, None],
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        logits, positions = out.logits[:, -1, :], positions + 1
    return cast(list[Completion], results)  # every row ends by max_tokens at the latest
