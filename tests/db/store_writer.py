"""A driver-like process for the concurrency tests (run as a script, not collected by pytest).

Usage: ``python store_writer.py URL WORKER WRITERS UNITS PROMPTS READY_FILE GO_FILE``. It signals that it has
started by creating READY_FILE, waits for GO_FILE (so every writer starts at once), then opens the store (creating
the schema if the database is new), creates the search "shared" with its held-out prompts or finds it. Then it
creates READY_FILE.opened and waits until all WRITERS have (so no writer records units while another is still
waiting for the schema), and records every unit (one candidate set x all prompts) plus its candidate. Worker 0 goes forwards, the others backwards, so the writers
overlap on every unit. It prints ``{"new": N}``: how many evaluations it stored that were not stored before.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from db import Candidate, CandidateStatus, Evaluation, SearchExistsError, Store, StoredItem


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} never happened")
        time.sleep(0.01)


def main(url: str, worker: int, writers: int, units: int, prompts: int, ready: Path, go: Path) -> int:
    ready.touch()
    wait_for(go.exists, f"{go} appearing")
    new = 0
    with Store.open(url) as store:
        try:
            store.create_search(
                "shared",
                config={"units": units},
                fingerprint="f",
                fingerprint_parts={},
                heldout_prompts=[StoredItem(f"prompt-{p}", p, {"text": f"q{p}"}) for p in range(prompts)],
            )
        except SearchExistsError:
            pass  # another writer created it, with its prompts
        ready.with_suffix(".opened").touch()
        wait_for(lambda: len(list(ready.parent.glob("*.opened"))) >= writers, f"{writers} writers opening the store")
        order = range(units) if worker == 0 else reversed(range(units))
        for unit in order:
            set_key = f"set-{unit}"
            batch = [
                Evaluation(set_key, f"prompt-{p}", float(unit + p), output=f"worker {worker}") for p in range(prompts)
            ]
            new += store.record_evaluations("shared", batch)
            candidate = Candidate(0, set_key, (f"demo-{unit}",), None, CandidateStatus.SCORED, score=float(unit))
            store.record_candidate("shared", candidate)
    print(json.dumps({"new": new}))
    return 0


if __name__ == "__main__":
    url, worker, writers, units, prompts, ready, go = sys.argv[1:]
    sys.exit(main(url, int(worker), int(writers), int(units), int(prompts), Path(ready), Path(go)))
