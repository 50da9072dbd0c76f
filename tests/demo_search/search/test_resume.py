"""Resume after a crash, and the refusals that protect a stored search (real Ray, engine, SQLite, CLI).

The reference is one uninterrupted ``demo-search run``. The crash test runs the same search on a fresh database
as a chain of drivers, each SIGKILLed at a different place (by failpoints mid-step, between steps and inside the
commit of a unit's evaluations; then while loading, after a second driver was refused), then resumed. It ends
with exactly the reference's trajectory, candidates and evaluations (sets, choices, runner-ups, statuses and
every score bit for bit), no duplicate pair, and every run having computed only the missing pairs.

Search: 6 candidates (3 upper-case, 3 reversing), 5 held-out prompts, 2 fixed demonstrations before which the
searched ones go, greedy, 3 steps: units 1 + 6 + 5 + 4 = 16, pairs 80.
"""

from __future__ import annotations

import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import harness
from tests.support.harness import CliRun, SearchData, SearchDb

pytestmark = pytest.mark.slow

NAME = "resume-demo"
PROMPTS = 5
CANDIDATES = 6
STEPS = 3
UNITS = 1 + 6 + 5 + 4
PAIRS = UNITS * PROMPTS
KILLED = -signal.SIGKILL

@dataclass(frozen=True)
class Reference:
    """An uninterrupted run of the search and what it stored."""

    root: Path
    data: SearchData
    config: Path
    db: SearchDb
    run: CliRun
    trajectory: list[tuple]
    candidates: list[tuple]
    evaluations: dict[tuple[str, str], float | None]

    def keys_of_step(self, step: int) -> list[str]:
        return [row[1] for row in self.candidates if row[0] == step]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, model_dir: Path, ray_address: str) -> Reference:
    root = tmp_path_factory.mktemp("resume")
    data = harness.write_search_data(root / "data", model_dir, prompts=PROMPTS)
    db_path = root / "reference.db"
    config = harness.write_config(root / "reference.yaml", data, name=NAME, db=db_path)
    run = harness.run_cli(["run", str(config)], cwd=root)
    assert run.returncode == 0, run.describe()
    db = SearchDb(db_path, NAME)
    return Reference(root, data, config, db, run, db.trajectory(), db.candidates(), db.evaluations())


def test_the_reference_run_evaluates_every_pair_once_and_records_every_step(reference: Reference) -> None:
    assert harness.pairs_computed(reference.run) == PAIRS == reference.db.evaluation_count()
    assert [row[0] for row in reference.trajectory] == list(range(STEPS + 1))
    assert [len(reference.keys_of_step(step)) for step in range(STEPS + 1)] == [1, 6, 5, 4]
    chosen = [row[2] for row in reference.trajectory[1:]]
    assert len(set(chosen)) == STEPS and set(chosen) <= {d.id for d in reference.data.pool_items}
    # The scores of a step's candidates all differ, so the step's choice does not hang on a tie rule.
    for step in range(1, STEPS + 1):
        scores = [row[5] for row in reference.candidates if row[0] == step]
        assert len(set(scores)) == len(scores)
    assert reference.db.status() == "finished" and reference.db.lease_owner() is None


class CrashChain:
    """Runs drivers one after another on one database and keeps, per run, the evaluations it added."""

    def __init__(self, reference: Reference, root: Path) -> None:
        self.reference = reference
        self.root = root
        self.db_path = root / "crash.db"
        self.config = harness.write_config(root / "crash.yaml", reference.data, name=NAME, db=self.db_path)
        self.db = SearchDb(self.db_path, NAME)
        self.added: dict[str, int] = {}

    def stored(self) -> int:
        return self.db.evaluation_count() if self.db_path.exists() else 0

    def stored_for_step(self, step: int) -> int:
        if not self.db_path.exists():
            return 0
        per_set = self.db.rows_per_set()
        return sum(per_set.get(key, 0) for key in self.reference.keys_of_step(step))

    def drive(self, label: str, args: list[str], failpoints: str | None = None) -> CliRun:
        """Run one driver; check that each step it started sent exactly the pairs that were not stored."""
        before = self.stored()
        first_step = len(self.db.trajectory()) if self.db_path.exists() else 0
        stored_at_start = self.stored_for_step(first_step)
        run = harness.run_cli(args, cwd=self.root, failpoints=failpoints)
        self.added[label] = self.stored() - before
        plans = harness.step_plans(run)
        assert plans, run.describe()
        assert plans[0].step == first_step, run.describe()
        assert plans[0].stored == stored_at_start, run.describe()
        for plan in plans:
            assert plan.pairs + plan.stored == PROMPTS * len(self.reference.keys_of_step(plan.step)), run.describe()
            assert plan.skipped == 0
        assert all(plan.stored == 0 for plan in plans[1:]), run.describe()
        return run

    def resume_args(self) -> list[str]:
        return ["resume", NAME, "--db", harness.sqlite_url(self.db_path)]

    def check_whole_units_only(self) -> None:
        """No partial unit: every candidate set has all of its prompts stored, or none."""
        assert set(self.db.rows_per_set().values()) <= {PROMPTS}
        assert self.db.duplicate_pairs() == []


def test_drivers_killed_mid_step_between_steps_and_in_a_commit_resume_to_the_uninterrupted_result(
    reference: Reference, tmp_path: Path
) -> None:
    chain = CrashChain(reference, tmp_path)
    db = chain.db

    # 1. Mid-step: SIGKILL right after the 3rd unit's evaluations were committed (the base set, 2 of step 1's 6).
    run = chain.drive("killed after_persist:3", ["run", str(chain.config)], failpoints="after_persist:3")
    assert run.returncode == KILLED, run.describe()
    assert db.evaluation_count() == 3 * PROMPTS
    assert db.trajectory() == reference.trajectory[:1]
    assert db.status() == "running" and f":{run.pid}:" in db.lease_owner()  # the dead driver's lease is left behind
    chain.check_whole_units_only()

    # 2. Between steps: `resume` takes the dead driver's lease over, finishes step 1 with the 4 missing units,
    #    and is killed right after recording it.
    dead_owner = db.lease_owner()
    run = chain.drive("killed after_step:1", chain.resume_args(), failpoints="after_step:1")
    assert run.returncode == KILLED, run.describe()
    assert f"the lease holder {dead_owner} is no longer running on this host: taking the lease over" in run.stderr
    assert f":{run.pid}:" in db.lease_owner()
    assert db.trajectory() == reference.trajectory[:2]
    assert db.evaluation_count() == (1 + CANDIDATES) * PROMPTS
    chain.check_whole_units_only()

    # 3. Inside a database write: `run` on the same config continues the search; it is killed inside the commit
    #    of step 2's second unit (write transactions of this run: lease takeover, status, unit 1, unit 2). The
    #    second unit's rows were inserted but never committed: only the first unit of step 2 is stored.
    run = chain.drive("killed db_commit:4", ["run", str(chain.config)], failpoints="db_commit:4")
    assert run.returncode == KILLED, run.describe()
    assert "continuing it" in run.stderr
    assert chain.added["killed db_commit:4"] == PROMPTS
    assert db.evaluation_count() == (1 + CANDIDATES + 1) * PROMPTS
    assert db.trajectory() == reference.trajectory[:2]
    chain.check_whole_units_only()

    # 4. Two live drivers: while one holds the lease (stopped, so it stays alive and holds it), a second is
    #    refused and names the holder. Then the first is killed wherever it was.
    before = db.evaluation_count()
    holder = harness.start_cli(chain.resume_args(), cwd=tmp_path)
    try:
        owner = harness.wait_until_running(db, holder)
        os.kill(holder.pid, signal.SIGSTOP)
        refused = harness.run_cli(chain.resume_args(), cwd=tmp_path)
        assert refused.returncode == 1, refused.describe()
        assert f"search '{NAME}' is being run by {owner}" in refused.stderr, refused.describe()
        assert "taking the lease over" not in refused.stderr
        assert db.lease_owner() == owner
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        killed = harness.finish(holder, chain.resume_args())
    assert killed.returncode == KILLED
    chain.added["stopped, then killed"] = db.evaluation_count() - before
    chain.check_whole_units_only()

    # 5. The last `resume` takes the lease over and finishes the search.
    run = chain.drive("finished", chain.resume_args())
    assert run.returncode == 0, run.describe()
    assert harness.pairs_computed(run) == chain.added["finished"]

    assert db.trajectory() == reference.trajectory
    assert db.candidates() == reference.candidates
    evaluations = db.evaluations()
    assert evaluations.keys() == reference.evaluations.keys()
    assert evaluations == reference.evaluations
    assert db.duplicate_pairs() == []
    assert sum(chain.added.values()) == PAIRS == harness.pairs_computed(reference.run)
    assert db.status() == "finished" and db.lease_owner() is None
    worst = max(abs(evaluations[key] - reference.evaluations[key]) for key in evaluations)
    print(f"\nevaluations added per run: {chain.added}; largest score difference to the reference: {worst:.2e}")


def test_a_driver_killed_while_it_creates_the_search_leaves_nothing_and_a_rerun_gives_the_reference(
    reference: Reference, tmp_path: Path
) -> None:
    chain = CrashChain(reference, tmp_path)

    # A new search's first write transactions create the schema, then store the search row with its pool and
    # held-out prompts. Killed inside the commit of each in turn, nothing of the search is left (before, a kill
    # between the search row and its items made the name unusable for good).
    for commit, tables_made in ((1, False), (2, True)):
        run = harness.run_cli(["run", str(chain.config)], cwd=tmp_path, failpoints=f"db_commit:{commit}")
        assert run.returncode == KILLED, run.describe()
        tables = chain.db.snapshot()
        assert ("searches" in tables) is tables_made, tables.keys()
        left = {table: rows for table, rows in tables.items() if rows and not table.endswith("_version")}
        assert left == {}, left

    run = chain.drive("after a killed creation", ["run", str(chain.config)])
    assert run.returncode == 0, run.describe()
    assert chain.db.trajectory() == reference.trajectory
    assert chain.db.candidates() == reference.candidates
    assert chain.db.evaluations() == reference.evaluations
    assert harness.pairs_computed(run) == PAIRS


# -- refusals ---------------------------------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str]:
    result = harness.invoke(*args)
    return result.exit_code, result.output


def test_run_with_a_changed_configuration_is_refused_naming_the_keys_and_changes_nothing(
    reference: Reference, tmp_path: Path
) -> None:
    before = reference.db.snapshot()
    code, output = _cli("run", str(reference.config), "--set", "decoding.max_tokens=13")
    assert code == 1, output
    assert f"refusing to continue search '{NAME}': its configuration changed" in output
    assert "differs: decoding.max_tokens" in output and "differs: data" not in output

    edited_pool = tmp_path / "pool.jsonl"
    lines = reference.data.pool.read_text(encoding="utf-8").splitlines(keepends=True)
    edited_pool.write_text("".join(lines[:-1]), encoding="utf-8")  # one candidate fewer
    config = harness.write_config(
        tmp_path / "edited.yaml", reference.data, name=NAME, db=reference.db.path,
        data={"pool": {"path": str(edited_pool)}},
    )
    code, output = _cli("run", str(config))
    assert code == 1, output
    assert "differs: data.pool.path (contents)" in output and "decoding" not in output
    assert reference.db.snapshot() == before


def test_resume_of_an_unknown_search_names_the_stored_ones(reference: Reference) -> None:
    code, output = _cli("resume", "resume-dem", "--db", harness.sqlite_url(reference.db.path))
    assert code == 1, output
    assert "no search named 'resume-dem'" in output and f"did you mean '{NAME}'?" in output

    missing = reference.root / "nowhere.db"
    code, output = _cli("resume", NAME, "--db", harness.sqlite_url(missing))
    assert code == 1, output
    assert f"SQLite database {missing} does not exist" in output
    assert not missing.exists()


def test_resume_with_a_data_file_gone_names_it_and_loses_nothing_then_resumes_once_it_is_back(
    reference: Reference, ray_address: str
) -> None:
    db_url = harness.sqlite_url(reference.db.path)
    before = reference.db.snapshot()
    moved = reference.data.pool.with_suffix(".moved")
    shutil.move(reference.data.pool, moved)
    try:
        code, output = _cli("resume", NAME, "--db", db_url)
    finally:
        shutil.move(moved, reference.data.pool)
    assert code == 1, output
    assert f"data.pool.path: file not found: {reference.data.pool}" in output
    assert reference.db.snapshot() == before

    # With the file back, resuming the finished search replays it and computes nothing.
    code, output = _cli("resume", NAME, "--db", db_url)
    assert code == 0, output
    assert "this run computed 0 (set, prompt) pair(s)" in output
    assert reference.db.trajectory() == reference.trajectory
    assert reference.db.evaluation_count() == PAIRS
