"""Test harness for whole searches: a random tiny model, synthetic data files, configs, the CLI, the database.

Shared by the search, export, CLI, tuning and job tests (import it as ``tests.support.harness``). Everything here
is real: the random Llama is saved in Hugging Face format and served by the transformers engine in Ray actors,
searches are stored in SQLite files, and ``demo-search`` runs as a subprocess when a test must kill it.

Ray: the test process starts one local Ray instance (``ray_address()``, once per session) and every driver the
tests start, in this process or as a subprocess, joins it (``RAY_ADDRESS``). A driver then costs a second or
two to connect instead of the 10-30 s a fresh local Ray takes here, and a SIGKILLed driver leaves nothing
behind: Ray kills a dead driver's actors itself.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner, Result

from demo_search.synthetic import make_demonstrations, make_heldout
from demo_search.templates import UrialPrompt, render_urial
from demo_search.types import Demonstration, HeldOutPrompt
from tests.support.local_ray import init_local_ray
from tests.workers.fakes import RANDOM_MODEL_CONFIG

REPO = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("demo-search")

MODEL_CONFIG = RANDOM_MODEL_CONFIG
RULES_TEXT = "# Instruction\n\nAnswer each query by the rule the examples follow."
CLI_TIMEOUT_S = 300
WIDE = "250"
"""Terminal width for the CLI's rich output, so no log line or table cell is wrapped or cut."""


# -- model and data ---------------------------------------------------------------------------------------


@cache
def random_model_dir(root: Path) -> Path:
    """A random tiny Llama (``MODEL_CONFIG``, seed 0) with the byte tokenizer, saved under ``root`` once."""
    from workers.tiny import build_random_model_dir

    return build_random_model_dir(root / "random-llama", seed=0, **MODEL_CONFIG)


@dataclass(frozen=True)
class SearchData:
    """The files of one search: model directory, pool and held-out JSONL, rules text, fixed demos (URIAL)."""

    root: Path
    model: Path
    pool: Path
    heldout: Path
    rules: Path
    fixed: Path
    pool_items: tuple[Demonstration, ...]
    prompts: tuple[HeldOutPrompt, ...]
    fixed_items: tuple[Demonstration, ...]


def write_search_data(
    root: Path,
    model: Path,
    *,
    per_rule: int = 3,
    prompts: int = 5,
    seed: int = 0,
    extra_pool: Sequence[Demonstration] = (),
) -> SearchData:
    """Pool: ``per_rule`` upper-case then ``per_rule`` reversing demonstrations (+ ``extra_pool``); held-out:
    ``prompts`` upper-case prompts; fixed: two copying demonstrations in a URIAL file with the rules."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    pool = [*make_demonstrations("upper", per_rule, rng), *make_demonstrations("reverse", per_rule, rng), *extra_pool]
    held = make_heldout("upper", prompts, rng, exclude=frozenset(d.query for d in pool))
    fixed = make_demonstrations("copy", 2, rng, exclude=frozenset(d.query for d in pool))
    data = SearchData(
        root=root,
        model=model,
        pool=root / "pool.jsonl",
        heldout=root / "heldout.jsonl",
        rules=root / "rules.txt",
        fixed=root / "fixed.urial.txt",
        pool_items=tuple(pool),
        prompts=tuple(held),
        fixed_items=tuple(fixed),
    )
    _write_jsonl(data.pool, [{"prompt": d.query, "response": d.answer} for d in pool])
    _write_jsonl(data.heldout, [{"prompt": p.query, "reference": p.reference} for p in held])
    data.rules.write_text(RULES_TEXT + "\n", encoding="utf-8")
    data.fixed.write_text(render_urial(UrialPrompt(rules=RULES_TEXT, demonstrations=tuple(fixed))), encoding="utf-8")
    return data


def _write_jsonl(path: Path, records: Sequence[Mapping[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def config_dict(files: SearchData, *, name: str, db: Path, **sections: Mapping[str, Any]) -> dict[str, Any]:
    """A loglik search over ``files`` stored in the SQLite file ``db``; ``sections`` are merged in key by key."""
    config: dict[str, Any] = {
        "name": name,
        "model": {"path": str(files.model), "batch_size": 8},
        "template": {
            "rules_file": str(files.rules),
            "fixed_demos_file": str(files.fixed),
            "position": "before_fixed",
        },
        "data": {"pool": {"path": str(files.pool)}, "heldout": {"path": str(files.heldout)}},
        "strategy": {"max_steps": 3, "min_delta": -1.0},
        "scorer": {"kind": "loglik"},
        "decoding": {"max_tokens": 12},
        "workers": {"count": 1, "cpus_per_worker": 1.0},
        "database": {"url": sqlite_url(db)},
    }
    return _merged(config, sections)


def write_config(path: Path, files: SearchData, *, name: str, db: Path, **sections: Mapping[str, Any]) -> Path:
    """``config_dict(...)`` written as YAML to ``path``."""
    path.write_text(yaml.safe_dump(config_dict(files, name=name, db=db, **sections), sort_keys=False), encoding="utf-8")
    return path


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def sqlite_url(db: Path) -> str:
    return f"sqlite:///{db}"


# -- Ray -------------------------------------------------------------------------------------------------


def ray_address() -> str:
    """The GCS address of this test process's local Ray (started on first use, 4 logical CPUs, no dashboard).

    Always a new instance (``address="local"``): without it ``ray.init`` joins whatever Ray this machine started
    last (``/tmp/ray/ray_current_cluster``), e.g. another test run's, and then refuses ``num_cpus``.
    """
    import ray

    if not ray.is_initialized():
        init_local_ray(num_cpus=4, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    return ray.get_runtime_context().gcs_address


# -- the CLI ---------------------------------------------------------------------------------------------------


def invoke(*args: str) -> Result:
    """``demo-search ARGS`` in this process (typer's runner; stdout and stderr merged in ``output``)."""
    from demo_search.cli import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": WIDE, "DEMO_SEARCH_DB": None})


def cli_env(*, failpoints: str | None = None) -> dict[str, str]:
    """The environment of a ``demo-search`` subprocess: joins this process's Ray, wide output, no stray settings."""
    address = ray_address()  # first: starting Ray may set RAY_AUTH_MODE=token here, which the child needs too
    env = {k: v for k, v in os.environ.items() if k not in ("DEMO_SEARCH_FAILPOINTS", "DEMO_SEARCH_DB", "RAY_ADDRESS")}
    env.update(RAY_ADDRESS=address, COLUMNS=WIDE, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    if failpoints:
        env["DEMO_SEARCH_FAILPOINTS"] = failpoints
    return env


def start_cli(args: Sequence[str], *, cwd: Path, failpoints: str | None = None) -> subprocess.Popen[str]:
    """Start ``demo-search ARGS`` (stdout and stderr captured as text)."""
    return subprocess.Popen(
        [str(CLI), *args], cwd=cwd, env=cli_env(failpoints=failpoints), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


@dataclass(frozen=True)
class CliRun:
    """A finished ``demo-search`` subprocess."""

    args: tuple[str, ...]
    pid: int
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"demo-search {' '.join(self.args)} -> {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def finish(process: subprocess.Popen[str], args: Sequence[str], timeout_s: float = CLI_TIMEOUT_S) -> CliRun:
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        raise AssertionError(f"demo-search {' '.join(args)} ran over {timeout_s} s\n{stdout}\n{stderr}") from None
    return CliRun(tuple(args), process.pid, process.returncode, stdout, stderr)


def run_cli(args: Sequence[str], *, cwd: Path, failpoints: str | None = None) -> CliRun:
    """Run ``demo-search ARGS`` to its end."""
    return finish(start_cli(args, cwd=cwd, failpoints=failpoints), args)


_COMPUTED = re.compile(r"this run computed (\d+) \(set, prompt\) pair")
_STEP_PLAN = re.compile(
    r"step (\d+): (\d+) candidate set\(s\), (\d+) unit\(s\) to run \((\d+) pairs; (\d+) already stored; (\d+) skipped\)"
)


def pairs_computed(run: CliRun) -> int:
    """The "this run computed N (set, prompt) pair(s)" that a finished run prints."""
    found = _COMPUTED.search(run.stdout)
    assert found, f"no 'this run computed' line:\n{run.describe()}"
    return int(found.group(1))


@dataclass(frozen=True)
class StepPlan:
    """What a driver logged when it started a step: pairs it will send, and pairs it found stored."""

    step: int
    candidates: int
    units: int
    pairs: int
    stored: int
    skipped: int


def step_plans(run: CliRun) -> list[StepPlan]:
    return [StepPlan(*map(int, m.groups())) for m in _STEP_PLAN.finditer(run.stderr)]


# -- the database, read directly -----------------------------------------------------------------------------


class SearchDb:
    """Read-only SQL over a search database file (what the store wrote, independent of the store's API)."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name

    def _rows(self, sql: str, *params: Any) -> list[tuple]:
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def _search_clause(self) -> str:
        return "search_id = (SELECT id FROM searches WHERE name = ?)"

    def evaluation_count(self) -> int:
        return self._rows(f"SELECT COUNT(*) FROM evaluations WHERE {self._search_clause()}", self.name)[0][0]

    def rows_per_set(self) -> dict[str, int]:
        rows = self._rows(
            f"SELECT set_key, COUNT(*) FROM evaluations WHERE {self._search_clause()} GROUP BY set_key", self.name
        )
        return dict(rows)

    def duplicate_pairs(self) -> list[tuple]:
        return self._rows(
            f"SELECT set_key, prompt_id, COUNT(*) FROM evaluations WHERE {self._search_clause()} "
            "GROUP BY set_key, prompt_id HAVING COUNT(*) > 1",
            self.name,
        )

    def evaluations(self) -> dict[tuple[str, str], float | None]:
        rows = self._rows(f"SELECT set_key, prompt_id, score FROM evaluations WHERE {self._search_clause()}", self.name)
        return {(s, p): score for s, p, score in rows}

    def trajectory(self) -> list[tuple]:
        """Per step: index, chosen set key and item, score, stderr, runner-up set key, item and score."""
        return self._rows(
            "SELECT step_index, set_key, item_id, score, stderr, runner_up_set_key, runner_up_item_id, runner_up_score "
            f"FROM steps WHERE {self._search_clause()} ORDER BY step_index",
            self.name,
        )

    def candidates(self) -> list[tuple]:
        return self._rows(
            "SELECT step_index, set_key, demo_ids, added_item_id, status, score, stderr, n_scored, reason "
            f"FROM step_candidates WHERE {self._search_clause()} ORDER BY step_index, set_key",
            self.name,
        )

    def status(self) -> str:
        return self._rows("SELECT status FROM searches WHERE name = ?", self.name)[0][0]

    def lease_owner(self) -> str | None:
        rows = self._rows(f"SELECT owner FROM leases WHERE {self._search_clause()}", self.name)
        return rows[0][0] if rows else None

    def snapshot(self) -> dict[str, list[tuple]]:
        """Every row of every table (timestamps included), to show that a refused command changed nothing."""
        tables = [t for (t,) in self._rows("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(self._rows(f'SELECT * FROM "{t}"'), key=repr) for t in tables}


def wait_until_running(db: SearchDb, process: subprocess.Popen[str], timeout_s: float = 120) -> str:
    """Wait until the driver ``process`` holds the search's lease and has marked it running; its lease owner."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert process.poll() is None, f"the driver ended ({process.returncode}) before it took the lease"
        try:
            owner = db.lease_owner() if db.path.exists() else None
            if owner is not None and f":{process.pid}:" in owner and db.status() == "running":
                return owner
        except sqlite3.OperationalError:  # the driver is still creating the schema
            pass
        assert time.monotonic() < deadline, f"the driver did not take the lease within {timeout_s} s"
        time.sleep(0.2)


def status_rows(output: str) -> list[list[str]]:
    """The body rows of the trajectory table that ``demo-search status`` prints, as lists of cell texts."""
    rows = []
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) > 1 and cells[0].isdigit():
            rows.append(cells)
    return rows
