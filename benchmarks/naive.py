"""A naive evaluator: every full prompt sent on its own, as a plain Hugging Face evaluation loop does it.

Prompts (prefix + branch + leaf + target) run in batches of ``batch_size`` in request order, left-padded with an
attention mask and position ids that skip the padding, with no cache kept between batches. Only the logits that
predict target tokens are computed (``logits_to_keep``), which favours the baseline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from workers.tree import CallStats, PrefixTree


def score_naively(
    model: torch.nn.Module, tree: PrefixTree, *, batch_size: int, pad_id: int
) -> tuple[list[tuple[float, ...]], CallStats]:
    """Target log-probabilities of every (branch, leaf) request, branch-major, and the call's stats."""
    start = time.perf_counter()
    requests = [
        (tree.full_prompt(b, x, with_target=True), len(x.target_ids)) for b in tree.branches for x in tree.leaves
    ]
    results: list[tuple[float, ...]] = []
    with torch.inference_mode():
        for first in range(0, len(requests), batch_size):
            results.extend(_score_batch(model, requests[first : first + batch_size], pad_id))
    tokens = sum(len(ids) for ids, _ in requests)
    wall = time.perf_counter() - start
    stats = CallStats(wall_time_s=wall, prompt_tokens=tokens, computed_tokens=tokens, cached_tokens=0)
    return results, stats


def _score_batch(
    model: torch.nn.Module, batch: Sequence[tuple[tuple[int, ...], int]], pad_id: int
) -> list[tuple[float, ...]]:
    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (ids, _) in enumerate(batch):
        input_ids[row, width - len(ids) :] = torch.tensor(ids)
        mask[row, width - len(ids) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    kept = max(n for _, n in batch) + 1
    logits = model(
        input_ids=input_ids.to(model.device),
        attention_mask=mask.to(model.device),
        position_ids=positions.to(model.device),
        logits_to_keep=kept,
    ).logits
    logprobs = logits.float().log_softmax(-1)
    out = []
    for row, (ids, n) in enumerate(batch):
        targets = torch.tensor(ids[len(ids) - n :], dtype=torch.long, device=logprobs.device)
        predicting = logprobs[row, kept - n - 1 : kept - 1]
        out.append(tuple(predicting.gather(-1, targets[:, None]).squeeze(-1).tolist()))
    return out
