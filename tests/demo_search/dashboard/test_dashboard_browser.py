"""The dashboard in a real headless Chromium, on a database written by real searches on the random tiny model.

One search (``done``, log-likelihood scores, which differ from set to set) ran to its end; another (``live``,
generated answers scored by matching) was killed (SIGKILL at the ``after_step`` failpoint) after two steps, so
the store shows it ``running`` with a partial trajectory, exactly as it looks while its driver works. The
browser reads the trajectory plot's data points from Plotly (``document.getElementById('trajectory').data``)
and checks them against the store, opens the running search's drill-down page and checks the generated answer
against the stored one; then the killed search is resumed by the real CLI, and the search page and the list of
searches left open must follow it to ``finished`` by themselves.
Screenshots are saved under ``$DEMO_SEARCH_TEST_ARTIFACTS`` (else the test's temporary directory).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from db import Step, Store
from tests.demo_search.dashboard.browser import Screenshots, chromium, chromium_paths, dashboard_server
from tests.support import harness

pytestmark = [pytest.mark.slow, pytest.mark.browser]

KILLED = -9
MAX_STEPS = 3
PAGE_WAIT_S = 300
"""How long the browser waits for the open page to follow a resumed search to its end (a bound, not a timing)."""


@pytest.fixture(scope="module")
def browser_parts() -> None:
    """Skip (a failure on CI) before any search runs when Chromium, its driver or Selenium is missing."""
    pytest.importorskip("selenium.webdriver", reason="needs selenium (the dev extra)")
    chromium_paths()


@pytest.fixture(scope="module")
def searched(browser_parts: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A SQLite database holding search ``done`` (loglik, finished) and ``live`` (match, killed after two steps,
    so ``running``)."""
    harness.ray_address()
    root = tmp_path_factory.mktemp("dashboard")
    model = harness.random_model_dir(tmp_path_factory.getbasetemp())
    files = harness.write_search_data(root / "data", model, per_rule=2, prompts=3)
    db = root / "searches.db"
    strategy = {"max_steps": MAX_STEPS, "min_delta": -1.0}
    done = harness.write_config(root / "done.yaml", files, name="done", db=db, strategy=strategy)
    live = harness.write_config(
        root / "live.yaml", files, name="live", db=db, strategy=strategy,
        scorer={"kind": "match", "match": {"mode": "contains"}}, decoding={"max_tokens": 12},
    )
    finished = harness.run_cli(["run", str(done)], cwd=root)
    assert finished.returncode == 0, finished.describe()
    killed = harness.run_cli(["run", str(live)], cwd=root, failpoints="after_step:2")
    assert killed.returncode == KILLED, killed.describe()
    return db, harness.sqlite_url(db)


def plot_data(session: Any, element_id: str) -> dict[str, dict[str, Any]]:
    """The traces Plotly drew in ``element_id``, by trace name (read from the page's JavaScript)."""
    traces = session.execute_script(
        "const gd = document.getElementById(arguments[0]);"
        "return JSON.stringify((gd && gd.data || []).map(t => ({name: t.name, x: t.x, y: t.y,"
        " error: t.error_y ? t.error_y.array : null})));",
        element_id,
    )
    return {trace["name"]: trace for trace in json.loads(traces)}


def assert_trajectory_matches(traces: dict[str, dict[str, Any]], steps: list[Step]) -> None:
    chosen = traces["chosen"]
    assert chosen["x"] == [step.step_index for step in steps]
    assert chosen["y"] == pytest.approx([step.score for step in steps], abs=1e-12)
    assert chosen["error"] == pytest.approx([step.stderr or 0.0 for step in steps], abs=1e-12)
    runner_up = [step for step in steps if step.runner_up_score is not None]
    assert traces["runner-up"]["y"] == pytest.approx([step.runner_up_score for step in runner_up], abs=1e-12)


def text_of(session: Any, element_id: str) -> str:
    return session.execute_script("return document.getElementById(arguments[0]).textContent;", element_id)


def wait_for_plot(session: Any, element_id: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(session, 60).until(
        lambda s: s.execute_script("const gd = document.getElementById(arguments[0]);"
                                   "return !!(gd && gd.data && gd.data.length);", element_id)
    )


def test_the_dashboard_shows_a_finished_and_a_running_search_as_the_store_holds_them(
    searched: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    db_path, db_url = searched
    with Store.open(db_url, read_only=True) as store:
        done_steps = store.steps("done")
        live_steps = store.steps("live")
        assert store.get_search("live").status.value == "running" and len(live_steps) == 2
        chosen = live_steps[-1]
        prompt = store.heldout_prompts("live")[0]
        evaluation = store.evaluation("live", chosen.set_key, prompt.item_id)
        (added,) = (item for item in store.pool_items("live") if item.item_id == chosen.item_id)
        added_query = added.payload["turns"][0]["query"]
    assert evaluation is not None and evaluation.output is not None
    assert len({step.score for step in done_steps}) > 1  # scores that differ, so the points are told apart

    shots = Screenshots.for_test("dashboard", tmp_path)
    with capsys.disabled():  # shown in the run's output even when the test passes
        print(f"\ndashboard screenshots: {shots.directory}")
    with dashboard_server(db_url, cwd=tmp_path) as base, chromium() as session:
        session.get(f"{base}/")
        rows = {
            row.get_attribute("data-name"): row for row in session.find_elements(By.CSS_SELECTOR, "#searches tbody tr")
        }
        assert rows["done"].find_element(By.CLASS_NAME, "status").text == "finished"
        assert rows["live"].find_element(By.CLASS_NAME, "status").text == "running"
        shots.take(session, "searches")

        session.get(f"{base}/search?name=done")
        wait_for_plot(session, "trajectory")
        assert_trajectory_matches(plot_data(session, "trajectory"), done_steps)
        distribution = plot_data(session, "distribution")
        assert distribution["chosen"]["y"] == pytest.approx([s.score for s in done_steps], abs=1e-12)
        assert len(distribution["candidates"]["y"]) > len(done_steps)
        shots.take(session, "search-done")

        session.get(f"{base}/pair?name=live&set={quote(chosen.set_key)}&prompt={quote(prompt.item_id)}")
        expected = evaluation.output.replace("\r\n", "\n").replace("\r", "\n")  # as HTML parsing normalises
        assert text_of(session, "answer") == expected
        assert text_of(session, "reference") == prompt.payload["reference"]
        rendered = text_of(session, "prompt")
        assert added_query in rendered and prompt.payload["query"] in rendered
        assert rendered.index(added_query) < rendered.rindex(prompt.payload["query"])  # the set, then the prompt
        shots.take(session, "pair-live")

        session.get(f"{base}/search?name=live")
        wait_for_plot(session, "trajectory")
        assert session.find_element(By.ID, "status").text == "running"
        assert_trajectory_matches(plot_data(session, "trajectory"), live_steps)
        shots.take(session, "search-live-running")

        search_window = session.current_window_handle
        session.switch_to.new_window("window")
        session.get(f"{base}/")
        session.execute_script("window.notReloaded = true;")  # the list updates its rows in place
        list_window = session.current_window_handle
        session.switch_to.window(search_window)

        resumed = harness.run_cli(["resume", "live", "--db", db_url], cwd=tmp_path)
        assert resumed.returncode == 0, resumed.describe()
        WebDriverWait(session, PAGE_WAIT_S, ignored_exceptions=(Exception,)).until(
            lambda s: s.find_element(By.ID, "status").text == "finished"
        )
        session.switch_to.window(list_window)
        live_row = '#searches tr[data-name="live"]'
        WebDriverWait(session, PAGE_WAIT_S, ignored_exceptions=(Exception,)).until(
            lambda s: s.find_element(By.CSS_SELECTOR, f"{live_row} .status").text == "finished"
        )
        assert session.execute_script("return window.notReloaded === true;")
        shots.take(session, "searches-live-finished")
        session.switch_to.window(search_window)
        wait_for_plot(session, "trajectory")
        with Store.open(db_url, read_only=True) as store:
            final_steps = store.steps("live")
        assert len(final_steps) > len(live_steps)
        assert_trajectory_matches(plot_data(session, "trajectory"), final_steps)
        shots.take(session, "search-live-finished")
    with capsys.disabled():
        print("dashboard screenshots saved: " + ", ".join(path.name for path in shots.saved))
