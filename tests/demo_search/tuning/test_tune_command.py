"""``demo-search tune`` refusals that need no engine: nothing to tune for, bad exports, non-tuning overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from db import Store
from demo_search.cli import app
from demo_search.config import load_config
from tests.demo_search.tuning import planted
from tests.support import harness


def stored_search(tmp_path: Path, model: Path, scorer: str = "match") -> str:
    """A search stored with its configuration, but no step yet; returns its database URL."""
    url = harness.sqlite_url(tmp_path / "search.db")
    task = planted.write_task(tmp_path, model, name="fresh", database_url=url, tuning={})
    config = load_config(task.config, (f"scorer.kind={scorer}",))
    with Store.open(url) as store:
        store.create_search("fresh", config=json.loads(config.model_dump_json()), fingerprint="f",
                            fingerprint_parts={})
    return url


def tune(*args: str) -> Result:
    return CliRunner().invoke(app, ["tune", *args], env={"COLUMNS": harness.WIDE})


def test_loglik_searches_have_nothing_to_tune(tmp_path: Path, model_dir: Path) -> None:
    import optuna

    url = stored_search(tmp_path, model_dir, scorer="loglik")

    refused = tune("fresh", "--db", url)

    assert refused.exit_code == 2, refused.output
    assert "search 'fresh' scores with 'loglik': decoding parameters do not matter" in refused.output
    assert optuna.get_all_study_names(storage=url) == []


def test_a_search_without_a_step_has_no_best_set_yet(tmp_path: Path, model_dir: Path) -> None:
    refused = tune("fresh", "--db", stored_search(tmp_path, model_dir))

    assert refused.exit_code == 1
    assert "search 'fresh' has no recorded step yet" in refused.output
    assert "`demo-search resume fresh`" in refused.output


def test_only_tuning_keys_of_a_stored_search_can_be_changed(tmp_path: Path, model_dir: Path) -> None:
    url = stored_search(tmp_path, model_dir)

    refused = tune("fresh", "--db", url, "--set", "decoding.temperature=0", "--trials", "5")

    assert refused.exit_code == 1
    assert "only tuning.* keys of a stored search can be changed" in refused.output
    assert "--set decoding.temperature=0: not a tuning key" in refused.output


def test_invalid_tuning_overrides_name_their_key(tmp_path: Path, model_dir: Path) -> None:
    refused = tune("fresh", "--db", stored_search(tmp_path, model_dir), "--set", "tuning.ranges.top_p.high=2.0")

    assert refused.exit_code == 1
    assert "tuning.ranges.top_p.high must be in (0, 1], got 2" in refused.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "is not an export document"),
        ('{"format": "demo-search.export"}', "the export document does not match its schema"),
    ],
)
def test_an_export_that_cannot_be_read_is_named(tmp_path: Path, model_dir: Path, content: str, expected: str) -> None:
    url = stored_search(tmp_path, model_dir)
    export = tmp_path / "best.json"
    export.write_text(content, encoding="utf-8")

    refused = tune("fresh", "--db", url, "--from-export", str(export))

    assert refused.exit_code == 1
    assert expected in refused.output, refused.output
