"""B2, wall clock: the project's evaluator vs a naive one that sends every full prompt independently, in one run.

Both score the same step (8 candidates x 8 MT-Bench first-turn prompts that have a reference answer, likelihood
scoring of the reference) with the same model object (a random ~25 M-parameter Llama, fp32, BPE vocabulary):
(a) the project's evaluator: ``TransformersEngine``, prefix warmed once, one ``score`` unit per candidate (the
driver's split); (b) ``benchmarks.naive.score_naively``: batches of full prompts, no reuse. Both layouts; the
scores of (a) and (b) are compared, so the speedup is for the same numbers.
"""

from __future__ import annotations

import logging
import time

import torch

from benchmarks.feed_counter import FeedCounter
from benchmarks.models import MEDIUM, model_dir, parameter_count
from benchmarks.naive import score_naively
from benchmarks.report import load_average, machine, section, table, write_section
from benchmarks.step import LAYOUTS, load_step_data, step_tree, unit_trees

logger = logging.getLogger(__name__)


def main(args) -> None:
    from transformers import AutoTokenizer

    from workers.engines.transformers_engine import TransformersEngine

    torch.set_num_threads(args.threads)
    path = model_dir(MEDIUM)
    params = parameter_count(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    data = load_step_data()
    engine = TransformersEngine(path, batch_size=args.batch_size)
    machine_line = machine()
    rows = []
    for layout in LAYOUTS:
        tree = step_tree(tokenizer, data, candidates=args.candidates, prompts=args.prompts, layout=layout,
                         with_references=True)
        load_before = load_average()
        counter = FeedCounter(engine.model)
        start = time.perf_counter()
        engine.warm(tree.prefix_ids)
        project = []
        for unit in unit_trees(tree):
            project.extend(s.token_logprobs for s in engine.score(unit).scores)
        project_s = time.perf_counter() - start
        project_fed = counter.counts.fed
        counter.counts.fed = 0
        naive, stats = score_naively(engine.model, tree, batch_size=args.batch_size, pad_id=tokenizer.pad_token_id)
        naive_fed = counter.counts.fed
        counter.remove()
        engine.close()  # the next layout starts from an empty prefix cache
        diff = max(abs(a - b) for p, q in zip(project, naive, strict=True) for a, b in zip(p, q, strict=True))
        bound, total = tree.trie_bound(with_target=True), tree.naive_total(with_target=True)
        rows.append((layout, len(tree.prefix_ids), bound, total, f"{total / bound:.2f}x", project_fed, naive_fed,
                     f"{project_s:.1f}", f"{stats.wall_time_s:.1f}", f"{stats.wall_time_s / project_s:.2f}x",
                     f"{diff:.1e}", f"{load_before} -> {load_average()}"))
        logger.info("%s", rows[-1])
    body = "\n".join([
        f"Step: {args.candidates} candidates x {args.prompts} MT-Bench first-turn prompts with a reference answer "
        f"(likelihood of the reference), model `{MEDIUM.name}`: random Llama, {params / 1e6:.1f} M parameters, "
        f"{MEDIUM.num_hidden_layers} layers, hidden {MEDIUM.hidden_size}, fp32, BPE vocab {MEDIUM.vocab_size}; "
        f"torch threads {args.threads}, batch size {args.batch_size} for both. Target: >= 5x in before_fixed, more "
        "in after_fixed.",
        "",
        table(["layout", "prefix", "trie bound", "naive total", "token ratio", "project positions fed",
               "naive positions fed", "project s", "naive s", "speedup", "max |logprob diff|", "load avg (1/5/15)"],
              rows),
        "",
        "Positions fed include padding (hook on the model). The naive evaluator computes only the logits of target "
        "tokens, like the engine.",
    ])
    name = f"b2-threads{args.threads}"
    title = f"B2: wall clock vs a naive evaluator ({args.threads} torch thread{'s' if args.threads > 1 else ''})"
    write_section(name, section(name, title, body, machine_line=machine_line))


def add_arguments(parser) -> None:
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
