"""B1's vLLM half, run under a venv with vLLM (``.venv-vllm``): ``python -m benchmarks.b1_vllm --model DIR ...``.

Runs the driver's unit split (prefix warmed once, then one ``generate(max_tokens=1)`` call per candidate) for
both layouts on one engine, emptying the prefix cache between layouts, and writes one JSON row per layout:
prompt tokens, tokens vLLM served from its cache, the trie bound, and what a cache could serve at most.
vLLM's ``LLM`` spawns its engine core, so it is only built under ``__main__``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

ENFORCE_EAGER = True  # no minutes of torch.compile at start-up; prefix caching does not depend on it


def servable_by_blocks(requests: Iterable[Sequence[int]], block_size: int) -> int:
    """The most tokens an automatic prefix cache of ``block_size`` can serve to ``requests`` sent in this order.

    A request can reuse the full blocks of its longest prefix that an earlier request also had (blocks are keyed
    by the hash of everything up to their end, as in vLLM), never its last token (it must compute at least one).
    Nothing is ever evicted.
    """
    seen: set[int] = set()
    total = 0
    for ids in requests:
        key, hit, hashes = 0, True, []
        for end in range(block_size, len(ids) + 1, block_size):
            key = hash((key, tuple(ids[end - block_size : end])))
            hashes.append((end, key))
        usable = 0
        for end, key in hashes:
            if hit and key in seen and end <= len(ids) - 1:
                usable = end
            else:
                hit = False
        total += usable
        seen.update(key for _, key in hashes)
    return total


def run_layout(engine, tree, layout: str, block_size: int) -> dict:
    from benchmarks.step import unit_trees
    from workers.decoding import DecodingParams

    params = DecodingParams(temperature=0.0, max_tokens=1)
    before = engine.prefix_cache_counters()
    start = time.perf_counter()
    engine.warm(tree.prefix_ids)
    computed, cached = len(tree.prefix_ids), 0  # the warm request runs on an empty cache
    for unit in unit_trees(tree):
        stats = engine.generate(unit, params).stats
        computed += stats.computed_tokens
        cached += stats.cached_tokens
    wall = time.perf_counter() - start
    after = engine.prefix_cache_counters()
    requests = [tree.prefix_ids]
    requests += [tree.full_prompt(b, x, with_target=False) for b in tree.branches for x in tree.leaves]
    prompt_tokens = sum(len(r) for r in requests)
    bound = tree.trie_bound(with_target=False)
    return dict(
        layout=layout,
        block_size=block_size,
        prompt_tokens=prompt_tokens,
        trie_bound=bound,
        naive_total=tree.naive_total(with_target=False),
        computed=computed,
        cached=cached,
        servable_exact=prompt_tokens - bound,
        servable_block=servable_by_blocks(requests, block_size),
        hits=(after.hits - before.hits) if after and before else None,
        queries=(after.queries - before.queries) if after and before else None,
        wall_s=wall,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--candidates", type=int, default=64)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--block-size", type=int, default=None, help="vLLM's block size (default: vLLM's own)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)

    from transformers import AutoTokenizer

    from benchmarks.step import LAYOUTS, load_step_data, step_tree
    from workers.engines.vllm_engine import VLLMEngine

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    data = load_step_data()
    options = {"enforce_eager": ENFORCE_EAGER}
    if args.block_size:
        options["block_size"] = args.block_size
    engine = VLLMEngine(args.model, max_context=4000, **options)
    llm = engine._live()  # the benchmark empties the prefix cache between layouts; the engine has no API for it
    block_size = int(llm.llm_engine.vllm_config.cache_config.block_size)
    rows = []
    try:
        for layout in LAYOUTS:
            tree = step_tree(
                tokenizer, data, candidates=args.candidates, prompts=args.prompts, layout=layout, with_references=False
            )
            if not llm.reset_prefix_cache():
                raise RuntimeError("vLLM refused to reset its prefix cache")
            rows.append(run_layout(engine, tree, layout, block_size))
            logger.info("%s", rows[-1])
    finally:
        engine.close()
    Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
