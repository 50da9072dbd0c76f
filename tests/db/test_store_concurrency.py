"""Several real processes writing one database at once: no errors, no lost and no duplicated rows."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from db import Store

WRITER = Path(__file__).with_name("store_writer.py")
UNITS = 40
PROMPTS = 8


def test_concurrent_writers_on_a_new_database(database_url: str, tmp_path: Path) -> None:
    writers = 3
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, str(WRITER), database_url, *map(str, (w, writers, UNITS, PROMPTS, tmp_path / f"r{w}", go))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"r{w}").exists() for w in range(writers)) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # all start together: they race to create the schema, the search, and every unit
    results = [process.communicate(timeout=120) for process in processes]

    failures = [(p.returncode, err[-2000:]) for p, (_, err) in zip(processes, results, strict=True) if p.returncode]
    assert failures == []
    new_per_writer = [json.loads(out)["new"] for out, _ in results]
    assert sum(new_per_writer) == UNITS * PROMPTS  # every pair stored exactly once, whoever stored it
    assert sum(1 for new in new_per_writer if new) >= 2  # the writers really interleaved
    with Store.open(database_url) as store:
        [summary] = store.list_searches()
        assert summary.evaluations == UNITS * PROMPTS
        assert len(store.candidates_of_step("shared", 0)) == UNITS
        pairs = store.evaluated_pairs("shared", [f"set-{unit}" for unit in range(UNITS)])
        assert len(pairs) == UNITS * PROMPTS
