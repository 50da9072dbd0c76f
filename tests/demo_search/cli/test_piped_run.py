"""``demo-search run CONFIG | cat``: a real search (random tiny model, loglik, 6 candidates x 5 prompts, 3 steps) run
as a subprocess whose stdout and stderr are pipes, in an 80-column terminal's environment.

Off a terminal its progress comes as log lines during every step (units, tokens, cache share, ETA), every record
of stderr is one line, and the status table it ends with is whole.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support import harness
from tests.support.harness import SearchData

pytestmark = pytest.mark.slow

LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: .*")
PROGRESS = re.compile(
    r" INFO demo_search\.search\.progress: (base set|step \d): (\d+)/(\d+) units; tokens computed [\d,]+ / from cache "
    r"[\d,]+ \(\d+% cached\); elapsed .+, ETA .+$"
)
NAME = "piped-search-with-a-long-name-that-an-eighty-column-table-would-cut-0123456789"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> SearchData:
    harness.ray_address()
    model = harness.random_model_dir(tmp_path_factory.getbasetemp())
    return harness.write_search_data(tmp_path_factory.mktemp("piped") / "data", model)


def test_a_piped_run_logs_progress_lines_and_prints_whole_lines(files: SearchData, tmp_path: Path) -> None:
    config = harness.write_config(tmp_path / "piped.yaml", files, name=NAME, db=tmp_path / "piped.db")
    env = harness.cli_env()
    env.update(COLUMNS="80", LINES="24")
    env.pop("FORCE_COLOR", None)
    env.pop("TTY_COMPATIBLE", None)
    run = subprocess.run([str(harness.CLI), "run", str(config)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=harness.CLI_TIMEOUT_S, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr

    ours = [line for line in run.stderr.splitlines() if LOG_LINE.fullmatch(line)]
    assert ours and all(LOG_LINE.fullmatch(line) for line in run.stderr.splitlines()), run.stderr
    progress = [PROGRESS.search(line) for line in ours if " demo_search.search.progress: " in line]
    assert progress and all(progress), "\n".join(ours)
    steps = {m.group(1): (m.group(2), m.group(3)) for m in progress if m}  # the last line of each step
    assert steps == {"base set": ("1", "1"), "step 1": ("6", "6"), "step 2": ("5", "5"), "step 3": ("4", "4")}
    step_1 = next(i for i, line in enumerate(ours) if "step 1: 6 candidate set(s)" in line)
    step_2 = next(i for i, line in enumerate(ours) if "step 2: 5 candidate set(s)" in line)
    during = [m for m in map(PROGRESS.search, ours[step_1:step_2]) if m]
    assert [(m.group(1), m.group(2)) for m in during] == [("step 1", str(n)) for n in range(1, 7)]  # 1 line a unit

    out = run.stdout.splitlines()
    assert f"search {NAME} finished: max_steps (3) reached" in run.stdout
    assert f"{NAME} — finished; 4 step(s) recorded" in out
    rows = harness.status_rows(run.stdout)
    assert [row[0] for row in rows] == ["0", "1", "2", "3"]
    assert [row[6] for row in rows] == ["1", "6", "5", "4"]
    assert all(re.fullmatch(r"-?\d+\.\d{4} ± \d+\.\d{4}", row[2]) for row in rows), rows
    assert "…" not in run.stdout
