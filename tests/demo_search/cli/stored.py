"""A finished search written straight into a SQLite store (no model, no Ray): what ``status``, ``list`` and
``export`` read, in well under a second.

The configuration is a real ``SearchConfig`` loaded from files, stored as ``run`` stores it; the steps are a
greedy search of two steps over a pool of four (one candidate skipped at step 1).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import yaml

from db import Candidate, CandidateStatus, SearchStatus, Step, Store, StoredItem
from demo_search.config import compute_fingerprint, load_config
from demo_search.types import Demonstration, HeldOutPrompt

RULES = "# Instruction\n\nAnswer like the examples."
STOP_REASON = "max_steps (2) reached"


@dataclass(frozen=True)
class StoredSearch:
    name: str
    db: Path
    pool: tuple[Demonstration, ...]
    fixed: tuple[Demonstration, ...]
    chosen: tuple[str, ...]
    """The pool ids chosen by steps 1, 2, ..."""

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"


def write_stored_search(
    root: Path,
    *,
    name: str = "stored",
    position: str = "before_fixed",
    template: str = "urial",
    chat_template: str | None = None,
) -> StoredSearch:
    """Store a finished two-step search under ``root`` (its data files, config and ``searches.db``);
    ``chat_template`` is the config's ``template.chat_template`` (with ``template="chat"``)."""
    root.mkdir(parents=True, exist_ok=True)
    pool = tuple(Demonstration.single(f"query {i}", f"answer {i}", source=f"pool.jsonl:{i + 1}") for i in range(4))
    fixed = (Demonstration.single("fixed query", "fixed answer", source="fixed.txt#0"),)
    heldout = tuple(HeldOutPrompt.create(f"held-out {i}", reference=f"reference {i}") for i in range(3))
    _write_jsonl(root / "pool.jsonl", [{"prompt": d.query, "response": d.answer} for d in pool])
    _write_jsonl(root / "heldout.jsonl", [{"prompt": p.query, "reference": p.reference} for p in heldout])
    config_file = root / f"{name}.yaml"
    config_file.write_text(yaml.safe_dump({
        "name": name,
        "model": {"path": "org/base-model"},
        "template": {"kind": template, "position": position,
                     **({"chat_template": chat_template} if chat_template is not None else {})},
        "data": {"pool": {"path": "pool.jsonl"}, "heldout": {"path": "heldout.jsonl"}},
        "strategy": {"max_steps": 2},
        "scorer": {"kind": "match"},
        "database": {"url": f"sqlite:///{root / 'searches.db'}"},
    }), encoding="utf-8")
    config = load_config(config_file)
    fingerprint = compute_fingerprint(config)
    chosen = (pool[2].id, pool[0].id)
    with Store.open(config.database.url) as store:
        store.create_search(
            name, config=config.stored_form(), fingerprint=fingerprint.digest,
            fingerprint_parts=dict(fingerprint.parts), rules=RULES, fixed_demos=[d.to_payload() for d in fixed],
            pool_items=[StoredItem(d.id, i, d.to_payload()) for i, d in enumerate(pool)],
            heldout_prompts=[StoredItem(p.id, i, p.to_payload()) for i, p in enumerate(heldout)],
        )
        _record_step(store, name, 0, base=(), added=[None], scores=[0.25])
        _record_step(store, name, 1, base=(), added=[d.id for d in pool], scores=[0.5, 0.25, 0.75, None])
        _record_step(store, name, 2, base=(chosen[0],), added=[pool[0].id, pool[1].id, pool[3].id],
                     scores=[1.0, 0.5, 0.75])
        store.set_status(name, SearchStatus.FINISHED, stop_reason=STOP_REASON)
    return StoredSearch(name, root / "searches.db", pool, fixed, chosen)


def _record_step(
    store: Store, name: str, index: int, *, base: tuple[str, ...], added: list[str | None], scores: list[float | None]
) -> None:
    candidates = []
    for item_id, score in zip(added, scores, strict=True):
        demo_ids = (*base, item_id) if item_id else base
        status = CandidateStatus.SCORED if score is not None else CandidateStatus.SKIPPED
        candidate = Candidate(
            step_index=index, set_key=f"{index}-{'-'.join(demo_ids) or 'base'}", demo_ids=demo_ids,
            added_item_id=item_id, status=status, score=score, stderr=0.125 if score is not None else None,
            n_scored=3 if score is not None else 0, reason=None if score is not None else "longer than the context",
        )
        store.record_candidate(name, candidate)
        candidates.append(candidate)
    ranked = sorted((c for c in candidates if c.score is not None), key=lambda c: -c.score)
    best, runner_up = ranked[0], (ranked[1] if len(ranked) > 1 else None)
    store.record_step(name, Step(
        step_index=index, set_key=best.set_key, item_id=best.added_item_id, score=best.score, stderr=best.stderr,
        runner_up_set_key=runner_up.set_key if runner_up else None,
        runner_up_item_id=runner_up.added_item_id if runner_up else None,
        runner_up_score=runner_up.score if runner_up else None,
    ))


def damage_table(db: Path, table: str) -> None:
    """Overwrite the root page of ``table`` with garbage: the file still opens, reading that table fails."""
    with sqlite3.connect(db) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        (root_page,) = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    with db.open("r+b") as file:
        file.seek((root_page - 1) * page_size)
        file.write(b"\xa5" * page_size)


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
