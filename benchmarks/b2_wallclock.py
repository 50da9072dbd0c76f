"""B2, wall clock: the engine vs the faster of two naive evaluators, interleaved in one run.

Every side runs on the same ``TransformersEngine``'s model object (a random ~22 M-parameter Llama, fp32, BPE
vocabulary) at one torch thread by default:
* ``engine``: the engine's own evaluator, prefix computed afresh each repetition (``close`` then ``warm``), one unit
  per candidate (the driver's split);
* ``naive loop``: ``benchmarks.naive`` with batch 1, each full prompt on its own;
* ``naive batched``: ``benchmarks.naive`` with ``--batch-size`` rows, left-padded.
For each layout and each mode (loglik of the reference answers; greedy generation of ``--max-tokens`` tokens) the
three sides run in turn, A/B/C/A/B/C..., ``--repetitions`` times; the speedup is the faster naive side's median over
the engine's median. The load average of this shared machine is recorded around each mode; interleaving spreads
its drift over all sides. The token ratio (what a naive evaluator feeds over the trie minimum) is printed beside
each speedup: a speedup above it would mean the baseline is slower per token than the engine, i.e. a weak baseline.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from benchmarks.feed_counter import FeedCounter
from benchmarks.models import MEDIUM, model_dir, parameter_count
from benchmarks.naive import generate_naively, score_naively
from benchmarks.report import load_average, machine, section, table, write_section
from benchmarks.step import LAYOUTS, load_step_data, step_tree, unit_trees
from workers.decoding import DecodingParams
from workers.tree import PrefixTree

logger = logging.getLogger(__name__)

SIDES = ("engine", "naive loop", "naive batched")


@dataclass(frozen=True)
class SideRun:
    """One side's repetitions: wall seconds of each, positions fed (hook, first repetition), and its outputs."""

    seconds: tuple[float, ...]
    fed: int
    outputs: list

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def _interleaved(sides: dict[str, Callable[[], list]], counter: FeedCounter, repetitions: int) -> dict[str, SideRun]:
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    fed: dict[str, int] = {}
    outputs: dict[str, list] = {}
    for repetition in range(repetitions):
        for name, run in sides.items():
            counter.counts.fed = 0
            start = time.perf_counter()
            result = run()
            seconds[name].append(time.perf_counter() - start)
            if repetition == 0:
                fed[name], outputs[name] = counter.counts.fed, result
            logger.info("rep %d %s: %.2f s", repetition, name, seconds[name][-1])
    return {name: SideRun(tuple(seconds[name]), fed[name], outputs[name]) for name in sides}


def _engine_side(engine, tree: PrefixTree, call: Callable[[PrefixTree], list]) -> Callable[[], list]:
    def run() -> list:
        engine.close()  # every repetition computes the prefix again, like the naive sides
        engine.warm(tree.prefix_ids)
        out = []
        for unit in unit_trees(tree):
            out.extend(call(unit))
        return out

    return run


def _row(layout: str, mode: str, runs: dict[str, SideRun], token_ratio: float, agreement: str, load: str) -> tuple:
    engine = runs["engine"]
    faster = min(("naive loop", "naive batched"), key=lambda name: runs[name].median)
    speedup = runs[faster].median / engine.median
    times = " / ".join(f"{runs[name].median:.1f}" for name in SIDES)
    fed = " / ".join(str(runs[name].fed) for name in SIDES)
    reps = "; ".join(f"{name}: " + ", ".join(f"{s:.1f}" for s in runs[name].seconds) for name in SIDES)
    return (layout, mode, f"{token_ratio:.2f}x", f"**{speedup:.2f}x**", faster, times, fed, agreement, reps, load)


def _loglik_row(engine, tokenizer, tree: PrefixTree, layout: str, args) -> tuple:
    pad = tokenizer.pad_token_id
    sides = {
        "engine": _engine_side(engine, tree, lambda unit: [s.token_logprobs for s in engine.score(unit).scores]),
        "naive loop": lambda: score_naively(engine.model, tree, batch_size=1, pad_id=pad),
        "naive batched": lambda: score_naively(engine.model, tree, batch_size=args.batch_size, pad_id=pad),
    }
    load = load_average()
    counter = FeedCounter(engine.model)
    runs = _interleaved(sides, counter, args.repetitions)
    counter.remove()
    diff = max(
        abs(a - b)
        for name in ("naive loop", "naive batched")
        for p, q in zip(runs["engine"].outputs, runs[name].outputs, strict=True)
        for a, b in zip(p, q, strict=True)
    )
    ratio = tree.naive_total(with_target=True) / tree.trie_bound(with_target=True)
    return _row(layout, "loglik", runs, ratio, f"max diff {diff:.1e}", f"{load} -> {load_average()}")


def _generation_row(engine, tokenizer, tree: PrefixTree, layout: str, args) -> tuple:
    pad, eos = tokenizer.pad_token_id, frozenset({tokenizer.eos_token_id})
    params = DecodingParams(temperature=0.0, max_tokens=args.max_tokens)

    def naive(batch_size: int) -> Callable[[], list]:
        return lambda: generate_naively(
            engine.model, tree, batch_size=batch_size, pad_id=pad, eos_ids=eos, max_tokens=args.max_tokens
        )

    sides = {
        "engine": _engine_side(
            engine, tree, lambda unit: [g.token_ids for g in engine.generate(unit, params).generations]
        ),
        "naive loop": naive(1),
        "naive batched": naive(args.batch_size),
    }
    load = load_average()
    counter = FeedCounter(engine.model)
    runs = _interleaved(sides, counter, args.repetitions)
    counter.remove()
    same = [
        sum(a == b for a, b in zip(runs["engine"].outputs, runs[name].outputs, strict=True))
        for name in ("naive loop", "naive batched")
    ]
    generated = sum(len(ids) for ids in runs["engine"].outputs)
    ratio = (tree.naive_total(with_target=False) + generated) / (tree.trie_bound(with_target=False) + generated)
    agreement = f"identical {same[0]}/{len(runs['engine'].outputs)}, {same[1]}/{len(runs['engine'].outputs)}"
    return _row(layout, f"greedy {args.max_tokens} tokens", runs, ratio, agreement, f"{load} -> {load_average()}")


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
        if "loglik" in args.modes:
            tree = step_tree(tokenizer, data, candidates=args.candidates, prompts=args.prompts, layout=layout,
                             with_references=True)
            rows.append(_loglik_row(engine, tokenizer, tree, layout, args))
            logger.info("%s", rows[-1])
        if "generate" in args.modes:
            tree = step_tree(tokenizer, data, candidates=args.candidates, prompts=args.prompts, layout=layout,
                             with_references=False)
            rows.append(_generation_row(engine, tokenizer, tree, layout, args))
            logger.info("%s", rows[-1])
    engine.close()
    body = "\n".join([
        (f"Step: {args.candidates} candidates x {args.prompts} MT-Bench first-turn prompts (loglik: prompts with a "
        f"reference answer, its likelihood; generation: any prompts, greedy), model `{MEDIUM.name}`: random Llama, "
        f"{params / 1e6:.1f} M parameters, {MEDIUM.num_hidden_layers} layers, hidden {MEDIUM.hidden_size}, fp32, BPE "
        f"vocab {MEDIUM.vocab_size}; **torch threads {args.threads}** (`torch.set_num_threads`); engine batch size "
        f"{args.batch_size}, naive batched {args.batch_size}, naive loop 1. {args.repetitions} interleaved "
        "repetitions (engine, naive loop, naive batched, engine, ...), medians. Targets: loglik >= 5x before_fixed, "
        ">= 8x after_fixed; generation >= 3x; against the faster naive."),
        "",
        table(["layout", "mode", "token ratio (naive/trie)", "speedup vs faster naive", "faster naive",
               "median s (engine / loop / batched)", "positions fed (engine / loop / batched)", "outputs vs naive",
               "every repetition, s", "load avg (1/5/15) before -> after"], rows),
        "",
        ("Token ratio: loglik, naive total / trie bound (with targets); generation, (naive prompt total + generated) / "
        "(trie bound + generated). Positions fed: hook on the model, padding included. `outputs vs naive`: loglik, "
        "the largest |log-prob difference| to either naive side; generation, answers with identical token ids "
        "(loop, batched)."),
    ])
    name = "b2"
    threads = f"{args.threads} torch thread{'s' if args.threads > 1 else ''}"
    title = f"B2: wall clock vs the faster naive evaluator ({threads})"
    write_section(name, section(name, title, body, machine_line=machine_line))


def add_arguments(parser) -> None:
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--modes", nargs="+", choices=("loglik", "generate"), default=["loglik", "generate"])
