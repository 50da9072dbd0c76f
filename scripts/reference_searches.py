"""Run the quickstart and the planted-task searches and dump each one's stored rows (scripts/dump_search.py).

Used to show that a change of code changed no behaviour: run it before and after, then compare the folders.

    python scripts/reference_searches.py OUT_DIR      # writes OUT_DIR/<search>.json
    diff -r BEFORE_DIR AFTER_DIR                       # no output: byte-identical trajectories and evaluations
"""

from __future__ import annotations

import json
import logging
import random
import sys
from pathlib import Path

from demo_search.config import load_config
from demo_search.pipeline import run as run_search
from demo_search.synthetic import planted_task, write_task_files

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dump_search import dump  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "examples" / "quickstart.yaml"


def searches(data_dir: Path):
    yield "quickstart", []
    for rule in ("copy", "reverse", "shift", "double"):
        pool, prompts = planted_task(rule, random.Random(1), right=8, wrong=4, noisy=6, heldout=12)
        pool_file, heldout_file = write_task_files(data_dir / rule, pool, prompts)
        data = [f"data.pool.path={pool_file}", f"data.heldout.path={heldout_file}"]
        yield f"{rule}-greedy", data
        yield f"{rule}-beam", [*data, "strategy.kind=beam", "strategy.beam_width=3"]
        yield f"{rule}-random", [*data, "strategy.kind=random", "seed=1"]
        yield f"{rule}-oneshot", [*data, "strategy.kind=one_shot", "strategy.max_steps=2"]


def main(out: Path) -> None:
    logging.basicConfig(level=logging.WARNING)
    out.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{out / 'searches.db'}"
    for name, overrides in searches(out / "data"):
        config = load_config(QUICKSTART, [f"database.url={db}", f"name={name}", *overrides])
        run_search(config)
        (out / f"{name}.json").write_text(json.dumps(dump(db, name), indent=1, sort_keys=True, default=str) + "\n")
        print(name, "done", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
