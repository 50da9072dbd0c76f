"""``demo_search.load`` and ``demo_search.exports`` on a search written straight into SQLite (no model, no Ray):
typed values, pandas frames, the export document, and the errors a notebook user meets."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

import demo_search
from db import Evaluation, SearchNotFoundError, Store
from tests.demo_search.cli.stored import STOP_REASON, StoredSearch, write_stored_search

pytestmark = pytest.mark.hand_written_searches  # stored.py writes its search row by row, not through the driver


@pytest.fixture()
def stored(tmp_path: Path) -> StoredSearch:
    search = write_stored_search(tmp_path / "search")
    with Store.open(search.url) as store:
        prompts = store.heldout_prompts(search.name)
        chosen = store.steps(search.name)[-1].set_key
        store.record_evaluations(search.name, [
            Evaluation(chosen, prompts[0].item_id, score=7.0, output="an answer",
                       detail={"judge_reply": "Rating: [[7]]", "rating": 7}, computed_tokens=11, cached_tokens=5),
            Evaluation(chosen, prompts[1].item_id, score=None, output="", error="no rating in the reply"),
        ])
    return search


def test_load_gives_the_search_its_trajectory_candidates_and_evaluations(stored: StoredSearch) -> None:
    result = demo_search.load(stored.name, db=stored.url)

    assert (result.name, result.status, result.stop_reason) == (stored.name, "finished", STOP_REASON)
    assert result.config["scorer"]["kind"] == "match"
    assert [step.step for step in result.trajectory] == [0, 1, 2]
    assert [step.chosen_item for step in result.trajectory[1:]] == list(stored.chosen)
    assert [step.chosen_query for step in result.trajectory[1:]] == [result.pool[i].query for i in stored.chosen]
    assert [step.score for step in result.trajectory] == [0.25, 0.75, 1.0]
    assert [step.candidates for step in result.trajectory] == [1, 4, 3]
    assert result.best_score == 1.0 and result.best_demo_ids == stored.chosen
    assert len(result.candidates) == 8 and sum(c.chosen for c in result.candidates) == 3
    assert [c.status for c in result.candidates if c.step == 1].count("skipped") == 1

    judged, failed = result.evaluations
    assert (judged.step, judged.added_item, judged.answer, judged.score) == (2, stored.chosen[1], "an answer", 7.0)
    assert (judged.judge_reply, judged.rating, judged.computed_tokens, judged.cached_tokens) == ("Rating: [[7]]", 7.0,
                                                                                                 11, 5)
    assert judged.prompt == "held-out 0" and judged.reference == "reference 0"
    assert (failed.score, failed.error, failed.judge_reply) == (None, "no rating in the reply", None)


def test_the_loaded_values_are_frozen(stored: StoredSearch) -> None:
    result = demo_search.load(stored.name, db=stored.url)

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.trajectory[0].score = 0.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.config["name"] = "other"  # type: ignore[index]
    with pytest.raises(TypeError):
        result.evaluations[0].detail["rating"] = 1  # type: ignore[index]


def test_tables_become_pandas_frames_with_one_column_per_field(stored: StoredSearch) -> None:
    pandas = pytest.importorskip("pandas")
    result = demo_search.load(stored.name, db=stored.url)

    evaluations = result.evaluations.to_pandas()
    trajectory = result.trajectory.to_pandas()

    assert isinstance(evaluations, pandas.DataFrame)
    assert list(evaluations.columns) == [f.name for f in dataclasses.fields(demo_search.PromptEvaluation)]
    assert evaluations["score"].tolist()[0] == 7.0 and pandas.isna(evaluations["score"].tolist()[1])
    assert evaluations.loc[0, "detail"] == {"judge_reply": "Rating: [[7]]", "rating": 7}
    assert trajectory["chosen_item"].tolist()[1:] == list(stored.chosen)
    assert len(result.candidates.to_pandas()) == 8


def test_an_empty_table_still_has_its_columns(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    frame = demo_search.Evaluations(()).to_pandas()

    assert frame.empty and list(frame.columns)[:3] == ["step", "set_key", "added_item"]


def test_to_pandas_without_pandas_says_what_to_install(stored: StoredSearch, monkeypatch: pytest.MonkeyPatch) -> None:
    result = demo_search.load(stored.name, db=stored.url)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ModuleNotFoundError

    with pytest.raises(demo_search.PandasMissingError) as raised:
        result.evaluations.to_pandas()

    assert str(raised.value) == "Evaluations.to_pandas() needs pandas, which is not installed: pip install pandas"
    assert isinstance(raised.value, ImportError)


def test_export_returns_the_document_and_writes_it_when_given_a_path(stored: StoredSearch, tmp_path: Path) -> None:
    document = demo_search.export(stored.name, db=stored.url)
    written = demo_search.export(stored.name, db=stored.url, path=tmp_path / "out" / "best.json")

    assert document.search.name == stored.name
    assert [demo.id for demo in document.demonstrations if demo.role == "selected"] == list(stored.chosen)
    on_disk = json.loads((tmp_path / "out" / "best.json").read_text(encoding="utf-8"))
    assert on_disk["demonstrations"] == json.loads(written.to_json())["demonstrations"]


def test_load_of_an_unknown_search_names_it(stored: StoredSearch) -> None:
    with pytest.raises(SearchNotFoundError, match="nope"):
        demo_search.load("nope", db=stored.url)


def test_importing_demo_search_and_loading_pulls_in_neither_torch_nor_ray(stored: StoredSearch) -> None:
    code = (
        "import sys, demo_search\n"
        f"result = demo_search.load({stored.name!r}, db={stored.url!r})\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'ray', 'optuna') if m in sys.modules)\n"
        "print(len(result.trajectory), heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[3])

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3 []"
