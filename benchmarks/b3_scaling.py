"""B3, scaling and overhead.

* Throughput: the same step's units (one per candidate) through ``workers.dispatch.Dispatcher`` with 1 actor
  (1 and 2 torch threads) and 2 actors (1 thread each) on a local Ray with 2 CPUs.
* Driver overhead: a real search (``run_search``: real config, SQLite store, Ray actor, loglik scorer) whose
  ``SearchDriver`` gets its store, scorer and dispatcher wrapped by timing proxies from outside
  (``benchmarks.timing``). The driver's own share is the run's wall time less the time it waits for results.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from benchmarks.models import SMALL, model_dir
from benchmarks.paths import CACHE_DIR, DATA_DIR
from benchmarks.report import machine, section, table, write_section
from benchmarks.step import draw, load_step_data, step_tree, unit_trees
from benchmarks.timing import TimedDispatcher, TimedProxy, Timings

logger = logging.getLogger(__name__)


def throughput(path: Path, tree, *, actors: int, threads: int) -> dict:
    from workers.dispatch import Dispatcher
    from workers.placement import ActorOptions
    from workers.spec import EngineSpec
    from workers.units import WorkUnit

    units = [WorkUnit(f"u{i}", "score", unit) for i, unit in enumerate(unit_trees(tree))]
    options = ActorOptions(num_cpus=2 / actors, cpu_threads=threads)
    with Dispatcher(EngineSpec("transformers", str(path)), actors, actor_options=options) as dispatcher:
        start = time.perf_counter()
        results = list(dispatcher.run(units))
        wall = time.perf_counter() - start
    if not all(r.ok for r in results):
        raise RuntimeError(f"units failed: {[r.error for r in results if not r.ok]}")
    computed = sum(r.result.stats.computed_tokens for r in results)
    return dict(actors=actors, threads=threads, units=len(units), wall_s=wall, computed=computed)


def _write_search_files(root: Path, candidates: int, prompts: int) -> dict[str, Path]:
    data = load_step_data()
    root.mkdir(parents=True, exist_ok=True)
    files = {name: root / name for name in ("pool.jsonl", "heldout.jsonl", "rules.txt")}
    pool = draw(data.pool, candidates, 0)
    held = draw(tuple(p for p in data.prompts if p.reference), prompts, 1)
    files["pool.jsonl"].write_text("".join(json.dumps({"prompt": d.query, "response": d.answer}) + "\n" for d in pool))
    files["heldout.jsonl"].write_text(
        "".join(json.dumps({"prompt": p.query, "reference": p.reference}) + "\n" for p in held)
    )
    files["rules.txt"].write_text(data.rules)
    return files


def driver_overhead(path: Path, args) -> tuple[float, Timings, object]:
    import demo_search.search.session as session
    from demo_search.config import load_config_text
    from demo_search.search.driver import SearchDriver

    root = CACHE_DIR / "b3-search"
    files = _write_search_files(root, args.search_candidates, args.search_prompts)
    db = root / f"search-{int(time.time())}.db"
    config = load_config_text(json.dumps({
        "name": "b3",
        "model": {"path": str(path), "batch_size": 8},
        "template": {"rules_file": str(files["rules.txt"]), "fixed_demos_file": str(DATA_DIR / "urial.txt"),
                     "position": args.layout},
        "data": {"pool": {"path": str(files["pool.jsonl"])}, "heldout": {"path": str(files["heldout.jsonl"])}},
        "strategy": {"max_steps": args.search_steps, "min_delta": -1.0},
        "scorer": {"kind": "loglik"},
        "workers": {"count": 1, "cpus_per_worker": args.search_cpus},
        "database": {"url": f"sqlite:///{db}"},
    }))
    timings = Timings()

    class TimedSearchDriver(SearchDriver):
        def __init__(self, *, store, dispatcher, scorer, **kwargs):
            super().__init__(
                store=TimedProxy(store, timings, "store"),
                dispatcher=TimedDispatcher(dispatcher, timings),
                scorer=TimedProxy(scorer, timings, "scorer"),
                **kwargs,
            )

        def run(self):
            start = time.perf_counter()
            try:
                return super().run()
            finally:
                timings.add("driver.run (total)", time.perf_counter() - start)

    original = session.SearchDriver
    session.SearchDriver = TimedSearchDriver
    try:
        outcome = session.run_search(config)
    finally:
        session.SearchDriver = original
    return timings.seconds["driver.run (total)"], timings, outcome


def main(args) -> None:
    import ray
    from transformers import AutoTokenizer

    path = model_dir(SMALL)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tree = step_tree(tokenizer, load_step_data(), candidates=args.candidates, prompts=args.prompts,
                     layout=args.layout, with_references=False)
    machine_line = machine()
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    try:
        runs = [throughput(path, tree, actors=a, threads=t) for a, t in ((1, 1), (1, 2), (2, 1))]
        total, timings, outcome = driver_overhead(path, args)
    finally:
        ray.shutdown()
    base = runs[0]["wall_s"]
    rows = [(r["actors"], r["threads"], r["units"], r["computed"], f"{r['wall_s']:.1f}",
             f"{r['computed'] / r['wall_s']:.0f}", f"{r['units'] / r['wall_s']:.2f}", f"{base / r['wall_s']:.2f}x")
            for r in runs]
    waiting = timings.seconds["dispatcher: waiting for results"]
    own = total - waiting
    split = [(name, timings.calls[name], f"{seconds:.3f}", f"{100 * seconds / total:.2f}%")
             for name, seconds in sorted(timings.seconds.items(), key=lambda kv: -kv[1])]
    body = "\n".join([
        f"Throughput: {args.candidates} candidates x {args.prompts} MT-Bench prompts, {args.layout}, model "
        f"`{SMALL.name}`, units = one candidate each, local Ray with 2 CPUs (actors ask for 2/actors CPUs).",
        "",
        table(["actors", "torch threads each", "units", "tokens computed", "wall s", "tokens/s", "units/s",
               "speedup vs 1x1"], rows),
        "",
        f"Driver overhead: `run_search` of a real loglik search ({args.search_candidates} pool items, "
        f"{args.search_prompts} MT-Bench prompts with references, {args.layout}, max_steps {args.search_steps}, "
        f"1 actor with {args.search_cpus:g} CPU(s) = torch threads, SQLite store), {outcome.pairs_computed} "
        f"evaluations. Driver run {total:.2f} s, of "
        f"which waiting for results {waiting:.2f} s; the driver's own share (everything else: tree building, "
        f"store writes and reads, scoring, dispatch) is {own:.2f} s = **{100 * own / total:.2f}%** (target < 5%).",
        "",
        table(["activity", "calls", "seconds", "share of driver.run"], split),
    ])
    write_section("b3", section("b3", "B3: scaling and driver overhead", body, machine_line=machine_line))


def add_arguments(parser) -> None:
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--layout", default="after_fixed")
    parser.add_argument("--search-candidates", type=int, default=12)
    parser.add_argument("--search-prompts", type=int, default=8)
    parser.add_argument("--search-steps", type=int, default=2)
    parser.add_argument("--search-cpus", type=float, default=1.0, help="the search actor's CPUs (= torch threads)")
