"""The skip policy of tests/skip_policy.py, run on a throwaway test tree in a pytest subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXPECTED = "tests/deploy/test_compose.py::test_docker_compose_config_accepts_the_file"
"""A node id listed in EXPECTED_SKIPS; the throwaway tree has a test of that name."""


def run_pytest(tree: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["PYTHONPATH"] = str(REPO)
    if ci is not None:
        env["CI"] = ci
    command = [sys.executable, "-m", "pytest", "-p", "tests.skip_policy", "-p", "no:cacheprovider", "-q", str(tree)]
    return subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=120, check=False)


def write_tree(root: Path, *, unexpected: bool = False, module_skip: bool = False) -> Path:
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    compose = root / "tests" / "deploy" / "test_compose.py"
    compose.parent.mkdir(parents=True)
    compose.write_text(
        "import pytest\n\n"
        "def test_docker_compose_config_accepts_the_file():\n    pytest.skip('no Docker client here')\n\n"
        "def test_runs():\n    pass\n",
        encoding="utf-8",
    )
    if unexpected:
        (root / "tests" / "test_parts.py").write_text(
            "import pytest\n\n@pytest.fixture(scope='session')\ndef frobnicator():\n"
            "    pytest.skip('the frobnicator binary is not installed')\n\n"
            "def test_needs_the_frobnicator(frobnicator):\n    pass\n",
            encoding="utf-8",
        )
    if module_skip:
        (root / "tests" / "test_module.py").write_text(
            "import pytest\n\npytest.importorskip('no_such_module_here', reason='no_such_module_here is missing')\n",
            encoding="utf-8",
        )
    return root


def test_on_ci_a_skip_for_a_missing_part_fails_naming_it(tmp_path: Path) -> None:
    done = run_pytest(write_tree(tmp_path, unexpected=True), ci="true")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ERROR tests/test_parts.py::test_needs_the_frobnicator" in done.stdout
    assert "a required part is missing (CI=true allows only" in done.stdout
    assert "the frobnicator binary is not installed" in done.stdout
    assert f"expected: {EXPECTED}: no Docker client here" in done.stdout
    assert "unexpected skips: 1 (of 2 skipped; CI" in done.stdout


def test_on_ci_the_expected_skips_pass(tmp_path: Path) -> None:
    done = run_pytest(write_tree(tmp_path), ci="true")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 skipped" in done.stdout
    assert "unexpected skips: 0 (of 1 skipped; CI" in done.stdout


def test_on_ci_a_module_skipped_while_collected_fails_the_run(tmp_path: Path) -> None:
    done = run_pytest(write_tree(tmp_path, module_skip=True), ci="true")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "UNEXPECTED, failed on CI: tests/test_module.py: no_such_module_here is missing" in done.stdout
    assert "unexpected skips: 1 (of 2 skipped; CI" in done.stdout


@pytest.mark.parametrize("ci", [None, "false"])
def test_off_ci_skips_are_listed_but_allowed(tmp_path: Path, ci: str | None) -> None:
    done = run_pytest(write_tree(tmp_path, unexpected=True), ci=ci)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "UNEXPECTED: tests/test_parts.py::test_needs_the_frobnicator: the frobnicator binary is not installed" in (
        done.stdout
    )
    assert "unexpected skips: 1 (of 2 skipped; not CI" in done.stdout
