"""B4, memory: peak RSS of an engine process for 32, 64 and 128 candidates (same prompts), one fresh process each.

The transformers engine keeps only the prefix cache, one branch cache and one batch cache alive, so the peak after
the first unit should not grow with the number of candidates.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from benchmarks.paths import CACHE_DIR, REPO_DIR
from benchmarks.report import machine, section, table, write_section

logger = logging.getLogger(__name__)


def measure(candidates: int, args) -> dict:
    out = CACHE_DIR / f"b4-{candidates}.json"
    cmd = [sys.executable, "-m", "benchmarks.b4_worker", "--candidates", str(candidates), "--prompts",
           str(args.prompts), "--layout", args.layout, "--batch-size", str(args.batch_size), "--out", str(out)]
    subprocess.run(cmd, check=True, cwd=REPO_DIR, env={**os.environ, "PYTHONPATH": str(REPO_DIR)})
    return json.loads(out.read_text())


def main(args) -> None:
    machine_line = machine()
    runs = [measure(n, args) for n in args.candidates]
    rows = [(r["candidates"], r["tokens"], f"{r['loaded_mib']:.0f}", f"{r['after_first_unit_mib']:.0f}",
             f"{r['peak_mib']:.0f}", f"{r['peak_mib'] - r['after_first_unit_mib']:+.1f}", f"{r['wall_s']:.1f}")
            for r in runs]
    body = "\n".join([
        f"One fresh process per size: transformers engine on `bpe-small`, layout {args.layout}, {args.prompts} "
        f"MT-Bench prompts, batch size {args.batch_size}, the driver's unit split. Peak RSS from "
        "`resource.getrusage(RUSAGE_SELF).ru_maxrss`. Target: flat in the number of candidates.",
        "",
        table(["candidates", "trie tokens", "peak RSS after load (MiB)", "after first unit (MiB)",
               "after all units (MiB)", "growth after first unit (MiB)", "wall s"], rows),
    ])
    write_section("b4", section("b4", "B4: engine memory vs candidates", body, machine_line=machine_line))


def add_arguments(parser) -> None:
    parser.add_argument("--candidates", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--layout", default="after_fixed")
    parser.add_argument("--batch-size", type=int, default=8)
