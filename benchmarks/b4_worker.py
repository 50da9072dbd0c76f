"""One B4 measurement in a fresh process: ``python -m benchmarks.b4_worker --candidates N --out FILE``.

Loads the engine, records the peak RSS, runs the driver's unit split over ``N`` candidates (prefix warmed once,
one ``score`` unit per candidate), records the peak RSS again, and writes both as JSON. The pool has fewer than
128 distinct demonstrations, so larger steps repeat pool items under new branch ids (the engine computes every
branch anyway).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", type=int, required=True)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--layout", default="after_fixed")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import torch
    from transformers import AutoTokenizer

    from benchmarks.models import SMALL, model_dir
    from benchmarks.step import load_step_data, step_tree, unit_trees
    from workers.engines.transformers_engine import TransformersEngine
    from workers.tree import Branch, PrefixTree

    torch.set_num_threads(args.threads)
    path = model_dir(SMALL)
    data = load_step_data()
    tokenizer = AutoTokenizer.from_pretrained(path)
    base = step_tree(tokenizer, data, candidates=len(data.pool), prompts=args.prompts, layout=args.layout,
                     with_references=False)
    branches = tuple(
        Branch(f"{b.branch_id}#{i // len(base.branches)}", b.token_ids)
        for i, b in zip(range(args.candidates), base.branches * (1 + args.candidates // len(base.branches)))
    )
    tree = PrefixTree(base.prefix_ids, branches, base.leaves)
    engine = TransformersEngine(path, batch_size=args.batch_size)
    loaded = peak_rss_mib()
    start = time.perf_counter()
    engine.warm(tree.prefix_ids)
    after_first = None
    for unit in unit_trees(tree):
        engine.score(unit)
        after_first = after_first or peak_rss_mib()
    wall = time.perf_counter() - start
    Path(args.out).write_text(json.dumps(dict(
        candidates=args.candidates, prompts=args.prompts, layout=args.layout, batch_size=args.batch_size,
        tokens=tree.trie_bound(with_target=False), loaded_mib=loaded, after_first_unit_mib=after_first,
        peak_mib=peak_rss_mib(), wall_s=wall,
    )))


if __name__ == "__main__":
    main()
