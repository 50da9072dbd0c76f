"""Which skips a CI run may have: under ``CI=true`` a skip not listed in ``EXPECTED_SKIPS`` fails the run.

A test skips, saying why, when a part it needs is missing here: the PostgreSQL server binaries, psycopg,
``runuser``, vLLM, Docker, Chromium with its chromedriver and Selenium (the dashboard's browser test). On a developer's machine that is a convenience; on CI it would let a broken set-up pass
as green. So, when the ``CI`` environment variable is true:

* a test (or fixture) that skips is reported as FAILED instead, with the skip's reason, which names the part;
* a whole module skipped while being collected fails the run at the end (pytest would abort the session if a
  collection report were turned into a failure);
* except for the skips listed in ``EXPECTED_SKIPS``, each with why it is expected.

Every run, CI or not, ends with a ``skips`` section listing each skipped test with its reason, marked expected or
UNEXPECTED, and a last line ``unexpected skips: N``. The hooks are imported by ``tests/conftest.py``.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping
from dataclasses import dataclass

import pytest

CI_ENV = "CI"
"""Environment variable CI services set; a true value (``true``, ``1``, ``yes``) makes skips strict."""

EXPECTED_SKIPS: Mapping[str, str] = {
    "tests/deploy/test_compose.py::test_docker_compose_config_accepts_the_file": (
        "needs a Docker client with the compose plugin, which CI machines do not have (the other compose tests "
        "parse the files without it)"
    ),
    "tests/demo_search/scoring/test_judge_vllm_serve.py": (
        "the main lane has no vLLM, so this module skips while collected; the vLLM lane runs it, and that lane "
        "fails on its own without vLLM (`import vllm` in .ci/vllm-lane.sh, tests/workers/test_vllm_engine.py)"
    ),
    "tests/workers/test_vllm_engine.py::test_missing_vllm_is_reported_with_the_install_command": (
        "checks the error raised where vLLM is absent, so it skips where vLLM is installed"
    ),
}
"""Node ids (without parameters; a module's path for a skip at collection) of the skips a CI run may have."""


def strict_skips() -> bool:
    """Whether this run is on CI, where only the expected skips are allowed."""
    return os.environ.get(CI_ENV, "").strip().lower() in {"true", "1", "yes"}


def expected_reason(nodeid: str) -> str | None:
    """Why the skip of ``nodeid`` is expected, or ``None`` when it is not."""
    return EXPECTED_SKIPS.get(nodeid.split("[", 1)[0])


@dataclass(frozen=True)
class Skip:
    """One skipped test or module: its node id, the reason it gave, and whether CI turned it into a failure."""

    nodeid: str
    reason: str
    failed_on_ci: bool


_SKIPS = pytest.StashKey[list[Skip]]()


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return message.removeprefix("Skipped: ")


def _skips(config: pytest.Config) -> list[Skip]:
    return config.stash.setdefault(_SKIPS, [])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport]:
    report = yield
    if not report.skipped or hasattr(report, "wasxfail"):
        return report
    reason = _reason(report)
    unexpected = strict_skips() and expected_reason(report.nodeid) is None
    _skips(item.config).append(Skip(report.nodeid, reason, failed_on_ci=unexpected))
    if unexpected:
        report.outcome = "failed"
        report.longrepr = (
            f"a required part is missing ({CI_ENV}={os.environ[CI_ENV]} allows only the skips listed in "
            f"tests/skip_policy.py): {reason}"
        )
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, pytest.CollectReport]:
    report = yield
    if report.skipped:
        unexpected = strict_skips() and expected_reason(report.nodeid) is None
        _skips(collector.config).append(Skip(report.nodeid, _reason(report), failed_on_ci=unexpected))
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    if session.exitstatus == pytest.ExitCode.OK and any(skip.failed_on_ci for skip in _skips(session.config)):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    skips = _skips(config)
    terminalreporter.section("skips")
    for skip in skips:
        expected = expected_reason(skip.nodeid)
        if skip.failed_on_ci:
            verdict = "UNEXPECTED, failed on CI"
        elif expected is None:
            verdict = "UNEXPECTED"
        else:
            verdict = "expected"
        terminalreporter.line(f"{verdict}: {skip.nodeid}: {skip.reason}")
        if expected is not None:
            terminalreporter.line(f"    why expected: {expected}")
    unexpected = sum(expected_reason(skip.nodeid) is None for skip in skips)
    mode = "CI: unexpected skips fail the run" if strict_skips() else "not CI: skips are allowed"
    terminalreporter.line(f"unexpected skips: {unexpected} (of {len(skips)} skipped; {mode})")
