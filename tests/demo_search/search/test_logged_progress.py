"""Progress off a terminal: :class:`LoggedProgress` logs a line every N units or T seconds and after a round's last
unit, with units done / total, tokens, cache share and ETA; a toy search (real driver, fake dispatcher) shows it
logs those lines for every step.

Time is a fake clock the test advances, never the wall clock.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from db import Store
from demo_search.search.progress import LoggedProgress, format_duration
from tests.support.fake_dispatcher import ScoreTable
from tests.support.toy_search import ToySearch, toy_problem

LOGGER = "demo_search.search.progress"
LINE = re.compile(
    r"(?P<label>base set|step \d+(, round \d+)?): (?P<done>\d+)/(?P<total>\d+) units( \((?P<failed>\d+) failed\))?; "
    r"tokens computed (?P<computed>[\d,]+) / from cache (?P<cached>[\d,]+)( \((?P<share>\d+)% cached\))?; "
    r"elapsed (?P<elapsed>.+), ETA (?P<eta>.+)"
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[re.Match[str]]:
    found = [LINE.fullmatch(r.getMessage()) for r in caplog.records if r.name == LOGGER]
    assert all(found), [r.getMessage() for r in caplog.records if r.name == LOGGER]
    return found  # type: ignore[return-value]


def test_a_line_every_n_units_and_after_the_last(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    clock = FakeClock()
    progress = LoggedProgress(every_units=3, every_s=1e9, clock=clock)
    progress.step_started(2, units=7, pairs=70, stored=0)
    for unit in range(7):
        clock.now += 2.0
        progress.unit_done(computed_tokens=100, cached_tokens=300, ok=unit != 4)
    found = lines(caplog)
    assert [(m["done"], m["total"]) for m in found] == [("3", "7"), ("6", "7"), ("7", "7")]
    assert [m["label"] for m in found] == ["step 2"] * 3
    first, second, last = found
    assert (first["computed"], first["cached"], first["share"], first["failed"]) == ("300", "900", "75", None)
    assert (first["elapsed"], first["eta"]) == ("6 s", "8 s")  # 2 s a unit, 4 units left
    assert second["failed"] == "1"
    assert (last["computed"], last["cached"], last["eta"]) == ("700", "2,100", "0 s")


def test_a_line_after_t_seconds_even_between_every_n_units(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    clock = FakeClock()
    progress = LoggedProgress(every_units=100, every_s=30.0, clock=clock)
    progress.step_started(0, units=200, pairs=200, stored=0)
    for seconds in (10, 10, 15, 5, 24, 1):
        clock.now += seconds
        progress.unit_done(0, 0, ok=True)
    found = lines(caplog)
    assert [m["done"] for m in found] == ["3", "6"]  # at 35 s, then 30 s after that line
    assert found[0]["label"] == "base set" and found[0]["share"] is None
    assert found[0]["eta"] == format_duration(35 / 3 * 197) == "38 min 18 s"


def test_the_default_interval_is_a_tenth_of_the_round_and_rounds_are_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    progress = LoggedProgress(clock=FakeClock())
    progress.step_started(1, units=25, pairs=100, stored=0)
    for _ in range(25):
        progress.unit_done(10, 0, ok=True)
    progress.step_started(1, units=2, pairs=2, stored=0)  # a follow-up round of the same step
    for _ in range(2):
        progress.unit_done(10, 0, ok=True)
    found = lines(caplog)
    assert [m["done"] for m in found if m["label"] == "step 1"] == ["3", "6", "9", "12", "15", "18", "21", "24", "25"]
    assert [(m["label"], m["done"], m["computed"]) for m in found[-2:]] == [
        ("step 1, round 2", "1", "10"), ("step 1, round 2", "2", "20")
    ]


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0 s"), (59.4, "59 s"), (65, "1 min 05 s"), (3725, "1 h 02 min")])
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_a_toy_search_logs_progress_for_every_step(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    with Store.open(f"sqlite:///{tmp_path / 'search.db'}") as store:
        search = ToySearch.create(store, "toy", toy_problem("abcd", prompts=3))
        driver = search.driver(search.dispatcher(ScoreTable({"": 0.25, "a": 0.5, "ab": 0.75})), max_steps=2)
        driver.progress = LoggedProgress(every_units=2, clock=FakeClock())
        outcome = driver.run()
    found = lines(caplog)
    assert [(m["label"], m["done"], m["total"]) for m in found] == [
        ("base set", "1", "1"), ("step 1", "2", "4"), ("step 1", "4", "4"), ("step 2", "2", "3"), ("step 2", "3", "3")
    ]
    computed = sum(int(m["computed"].replace(",", "")) for m in found if m["done"] == m["total"])
    cached = sum(int(m["cached"].replace(",", "")) for m in found if m["done"] == m["total"])
    assert (computed, cached) == (outcome.computed_tokens, outcome.cached_tokens) and computed > 0
