"""Naive evaluators: every full prompt (prefix + branch + leaf [+ target]) sent on its own, no reuse between them.

Two shapes, both run on the model object they are given, in request order (branch-major):
* ``batch_size=1``: a plain loop, one prompt per forward pass, no padding and no mask;
* ``batch_size>1``: a padded batched loop, prompts left-padded with an attention mask and position ids that skip
  the padding (the usual Hugging Face batch evaluation).
Which is faster depends on the machine (padding costs work, batching saves per-call overhead), so B2 runs both
and compares the engine with the faster. Scoring computes only the logits that predict target tokens
(``logits_to_keep``), like the engine; generation is greedy with a cache, ``max_tokens`` steps at most, and a
batch runs until its last row ends (finished rows run on, as in ``generate``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from workers.tree import PrefixTree


def score_naively(model: torch.nn.Module, tree: PrefixTree, *, batch_size: int, pad_id: int) -> list[tuple[float, ...]]:
    """Target log-probabilities of every (branch, leaf) request, branch-major."""
    requests = [
        (tree.full_prompt(b, x, with_target=True), len(x.target_ids)) for b in tree.branches for x in tree.leaves
    ]
    results: list[tuple[float, ...]] = []
    with torch.inference_mode():
        for first in range(0, len(requests), batch_size):
            results.extend(_score_batch(model, requests[first : first + batch_size], pad_id))
    return results


def generate_naively(
    model: torch.nn.Module,
    tree: PrefixTree,
    *,
    batch_size: int,
    pad_id: int,
    eos_ids: frozenset[int],
    max_tokens: int,
) -> list[tuple[int, ...]]:
    """Greedy token ids of every (branch, leaf) request, branch-major, each ending at its first EOS id or at
    ``max_tokens`` (EOS included, like the engine's ``token_ids``)."""
    prompts = [tree.full_prompt(b, x, with_target=False) for b in tree.branches for x in tree.leaves]
    results: list[tuple[int, ...]] = []
    with torch.inference_mode():
        for first in range(0, len(prompts), batch_size):
            results.extend(_generate_batch(model, prompts[first : first + batch_size], pad_id, eos_ids, max_tokens))
    return results


def _left_padded(
    model: torch.nn.Module, prompts: Sequence[Sequence[int]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """``input_ids`` and, when rows differ in length, the attention mask and position ids (else ``None``)."""
    width = max(len(ids) for ids in prompts)
    if all(len(ids) == width for ids in prompts):
        return torch.tensor([list(ids) for ids in prompts], dtype=torch.long, device=model.device), None, None
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, ids in enumerate(prompts):
        input_ids[row, width - len(ids) :] = torch.tensor(list(ids))
        mask[row, width - len(ids) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return input_ids.to(model.device), mask.to(model.device), positions.to(model.device)


def _score_batch(
    model: torch.nn.Module, batch: Sequence[tuple[tuple[int, ...], int]], pad_id: int
) -> list[tuple[float, ...]]:
    input_ids, mask, positions = _left_padded(model, [ids for ids, _ in batch], pad_id)
    kept = max(n for _, n in batch) + 1
    logits = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, logits_to_keep=kept).logits
    logprobs = logits.float().log_softmax(-1)
    out = []
    for row, (ids, n) in enumerate(batch):
        targets = torch.tensor(ids[len(ids) - n :], dtype=torch.long, device=logprobs.device)
        predicting = logprobs[row, kept - n - 1 : kept - 1]
        out.append(tuple(predicting.gather(-1, targets[:, None]).squeeze(-1).tolist()))
    return out


def _generate_batch(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    pad_id: int,
    eos_ids: frozenset[int],
    max_tokens: int,
) -> list[tuple[int, ...]]:
    input_ids, mask, positions = _left_padded(model, prompts, pad_id)
    out = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
    cache = out.past_key_values
    if positions is None:
        next_position = input_ids.new_full((len(prompts),), input_ids.shape[1])
    else:
        next_position = positions[:, -1] + 1
    generated: list[list[int]] = [[] for _ in prompts]
    finished = [False] * len(prompts)
    logits = out.logits[:, -1, :]
    for step in range(max_tokens):
        tokens = logits.float().argmax(-1)
        for row, token in enumerate(tokens.tolist()):
            if not finished[row]:
                generated[row].append(token)
                finished[row] = token in eos_ids
        if all(finished) or step == max_tokens - 1:
            break
        if mask is not None:
            mask = torch.cat([mask, mask.new_ones((len(prompts), 1))], dim=1)
        out = model(
            input_ids=tokens[:, None],
            attention_mask=mask,
            position_ids=next_position[:, None],
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        logits, next_position = out.logits[:, -1, :], next_position + 1
    return [tuple(ids) for ids in generated]
