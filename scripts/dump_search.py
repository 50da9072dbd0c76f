"""Dump every stored row of a search that its computation decides, as canonical JSON (no timestamps, no ids).

Two runs of the same search give byte-identical dumps exactly when they chose the same sets with the same
scores from the same stored evaluations; used to check that a refactoring changed no behaviour:

    python scripts/dump_search.py sqlite:///runs/a.db NAME > before.json
    ...  (change the code, run the same search again)
    python scripts/dump_search.py sqlite:///runs/b.db NAME > after.json && cmp before.json after.json
"""

from __future__ import annotations

import dataclasses
import json
import sys

from db import Store


def _row(value: object) -> dict:
    row = dataclasses.asdict(value)
    row.pop("created_at", None)
    return row


def dump(url: str, name: str) -> dict:
    with Store.open(url, create=False) as store:
        search = store.get_search(name)
        steps = store.steps(name)
        candidates = [c for step in range(len(steps) + 1) for c in store.candidates_of_step(name, step)]
        keys = sorted({c.set_key for c in candidates})
        return {
            "status": search.status.value,
            "stop_reason": search.stop_reason,
            "steps": [_row(step) for step in steps],
            "candidates": [_row(c) for c in candidates],
            "evaluations": {key: sorted((_row(e) for e in store.evaluations_for(name, key)),
                                        key=lambda e: e["prompt_id"]) for key in keys},
        }


if __name__ == "__main__":
    json.dump(dump(sys.argv[1], sys.argv[2]), sys.stdout, indent=1, sort_keys=True, default=str)
    sys.stdout.write("\n")
