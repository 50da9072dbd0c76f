"""The dashboard on a search the real driver ran (toy demonstrations, a fake dispatcher: no Ray, no model), on
SQLite and on a real PostgreSQL server, read while the search is half done and after it finished. The status
is set as the search session sets it around its driver (running, then finished)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from db import SearchStatus, Store
from demo_search.dashboard.app import create_app
from demo_search.dashboard.source import StoreSource
from tests.support.fake_dispatcher import DispatcherKilled, ScoreTable
from tests.support.toy_search import ToySearch, toy_problem

TABLE = ScoreTable({"a": 1.0, "b": 0.5, "ab": 2.0, "ac": 1.5}, spread=(0.25, -0.25, 0.0))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'toy.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def writer(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as store:
        yield store


def trajectory(client: TestClient, name: str) -> tuple[str, list[int], list[float]]:
    data = client.get("/api/search", params={"name": name}).json()
    chosen = data["figures"]["trajectory"]["data"][0]
    return data["listing"]["status"], chosen["x"], chosen["y"]


def test_a_search_is_followed_from_half_done_to_finished(writer: Store, database_url: str) -> None:
    search = ToySearch.create(writer, "toy", toy_problem("abc", prompts=3))
    source = StoreSource(database_url)
    try:
        client = TestClient(create_app(source))
        dying = search.dispatcher(TABLE, die_after=3)  # the base set's unit, then 2 of step 1's 3
        writer.set_status("toy", SearchStatus.RUNNING)
        with pytest.raises(DispatcherKilled):
            search.driver(dying, max_steps=2).run()
        status, steps, scores = trajectory(client, "toy")
        assert (status, steps) == ("running", [0])
        assert scores == [s.score for s in writer.steps("toy")]

        search.driver(search.dispatcher(TABLE), max_steps=2).run()
        writer.set_status("toy", SearchStatus.FINISHED, stop_reason="max_steps (2) reached")

        status, steps, scores = trajectory(client, "toy")
        assert (status, steps) == ("finished", [0, 1, 2])
        assert scores == [s.score for s in writer.steps("toy")] == [0.0, 1.0, 2.0]
        assert search.chosen() == ["", "a", "ab"]
        page = client.get("/search", params={"name": "toy"}).text
        assert page.count('class="chosen"') == 3
    finally:
        source.close()
