"""A planted task for tuning tests: 4 right-rule demonstrations fixed, a 2-item pool, 16 held-out prompts of the rule.

Import it as ``tests.demo_search.tuning.planted``. The model is the bundled tiny model when it has been trained
(``workers/tiny/model/config.json``), else the random tiny Llama of ``tests.support.harness``; only the
trained model answers by the rule, so tests that need scores to move ask for it with :func:`trained_model`.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from demo_search.synthetic import make_demonstrations, make_heldout
from demo_search.templates import UrialPrompt, render_urial
from demo_search.types import Demonstration, HeldOutPrompt
from tests.support import harness
from workers.tiny import MODEL_DIR

RULE = "upper"
OTHER_RULE = "reverse"
RULES_TEXT = "# Instruction\n\nAnswer each query by the rule the examples follow."
HELDOUT = 16
ANSWER_END = "\n```"
POOR_START = {"temperature": 2.0, "repetition_penalty": 1.0, "top_p": 1.0, "max_tokens": 16, "seed": 0,
              "stop": [ANSWER_END]}
"""The search's own decoding parameters in these tests: hot sampling and no repetition penalty. The trained tiny
model is confident: at temperature 1.5 it still answers ~7/8 of the upper-case prompts right, at 2.0 under half.
Answers stop at their closing fence (the model was trained on answer blocks only, so what follows a fence is noise)."""


def trained_model() -> Path:
    """The bundled tiny model; the test is skipped, with the reason, until it has been trained."""
    if not (MODEL_DIR / "config.json").is_file():
        pytest.skip(f"the bundled tiny model is not trained yet ({MODEL_DIR}); scores cannot move on a random model")
    return MODEL_DIR


def any_model(tmp_root: Path) -> Path:
    """The bundled tiny model when trained, else the harness's random tiny Llama."""
    return MODEL_DIR if (MODEL_DIR / "config.json").is_file() else harness.random_model_dir(tmp_root)


@dataclass(frozen=True)
class PlantedTask:
    root: Path
    config: Path
    fixed: tuple[Demonstration, ...]
    pool: tuple[Demonstration, ...]
    heldout: tuple[HeldOutPrompt, ...]


def write_task(
    root: Path,
    model: Path,
    *,
    name: str,
    database_url: str,
    tuning: dict[str, Any],
    decoding: dict[str, Any] | None = None,
    seed: int = 0,
) -> PlantedTask:
    """The files and the config of a one-step greedy ``match`` search decoding with ``POOR_START`` (changed by
    ``decoding``)."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    fixed = make_demonstrations(RULE, 4, rng)
    used = frozenset(d.query for d in fixed)
    pool = [*make_demonstrations(RULE, 1, rng, exclude=used), *make_demonstrations(OTHER_RULE, 1, rng, exclude=used)]
    heldout = make_heldout(RULE, HELDOUT, rng, exclude=used | {d.query for d in pool})
    (root / "fixed.urial.txt").write_text(
        render_urial(UrialPrompt(rules=RULES_TEXT, demonstrations=tuple(fixed))), encoding="utf-8"
    )
    _jsonl(root / "pool.jsonl", [{"prompt": d.query, "response": d.answer} for d in pool])
    _jsonl(root / "heldout.jsonl", [{"prompt": p.query, "reference": p.reference} for p in heldout])
    config = {
        "name": name,
        "seed": seed,
        "model": {"path": str(model), "batch_size": HELDOUT},
        "template": {"fixed_demos_file": str(root / "fixed.urial.txt"), "position": "before_fixed"},
        "data": {"pool": {"path": str(root / "pool.jsonl")}, "heldout": {"path": str(root / "heldout.jsonl")}},
        "strategy": {"max_steps": 1},
        "scorer": {"kind": "match", "match": {"mode": "exact"}},
        "decoding": {**POOR_START, **(decoding or {})},
        "workers": {"count": 1, "cpus_per_worker": 1.0},
        "database": {"url": database_url},
        "tuning": tuning,
    }
    path = root / "search.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return PlantedTask(root, path, tuple(fixed), tuple(pool), tuple(heldout))


def _jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
