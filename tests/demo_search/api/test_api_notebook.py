"""A notebook session through the Python API: real searches on the bundled tiny model (transformers engine in
this process's Ray, SQLite), scored by a user's Python function.

The task is planted (``demo_search.synthetic``): held-out prompts of the upper-casing rule, a pool mixing right-rule,
wrong-rule and noisy demonstrations. The scorer is the user's exact-match function; the search must find a
right-rule demonstration by that function's scores, and ``load`` must give back exactly the values it returned.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

import demo_search
from demo_search.config import load_config_data
from demo_search.errors import ConfigError
from demo_search.search.session import ResumeRefusedError
from demo_search.synthetic import planted_task, write_task_files
from tests.support import harness
from tests.support.scorer_plugins import EXACT_MATCH_SOURCE, install_scorer_distribution

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
PROMPTS = 4


@demo_search.scorer_function(version="1")
def exact(prompt: str, answer: str, reference: str | None) -> float:
    """The user's scorer: 1.0 when the answer is the reference (surrounding whitespace ignored), else 0.0."""
    return float(answer.strip() == (reference or "").strip())


def config_for(task: Path, name: str, db: Path, **sections: Any) -> dict[str, Any]:
    """The quickstart's settings (bundled tiny model, greedy, stop once no candidate adds a point) on ``task``."""
    config = {
        "name": name,
        "model": {"path": "tiny", "engine": "transformers", "dtype": "float32", "batch_size": 16},
        "template": {"kind": "urial", "rules_file": str(REPO / "examples" / "tiny_rules.txt")},
        "data": {"pool": {"path": str(task / "pool.jsonl")}, "heldout": {"path": str(task / "heldout.jsonl")}},
        "strategy": {"kind": "greedy", "max_steps": 2, "min_delta": 0.01},
        "decoding": {"temperature": 0.0, "max_tokens": 16, "stop": ["\n```"]},
        "workers": {"count": 1, "cpus_per_worker": 1},
        "database": {"url": harness.sqlite_url(db)},
    }
    config.update(sections)
    return config


class InterruptAfter:
    """A progress sink that plays the user interrupting the kernel (Ctrl-C raises ``KeyboardInterrupt`` in the main
    thread) once ``units`` units are stored."""

    def __init__(self, units: int) -> None:
        self.left = units

    def step_started(self, step: int, units: int, pairs: int, stored: int) -> None:
        pass

    def unit_done(self, computed_tokens: int, cached_tokens: int, ok: bool) -> None:
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt

    def step_finished(self, step: int, summary: str) -> None:
        pass


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The planted task's files, and each pool item's label (``right``, ``wrong:<rule>``, ``noisy``) by id."""
    pool, prompts = planted_task("upper", random.Random(7), right=2, wrong=1, noisy=1, heldout=PROMPTS)
    root = tmp_path_factory.mktemp("api-task")
    write_task_files(root, pool, prompts)
    return root, {demo.id: label for demo, label in pool}


@pytest.fixture(scope="module")
def searched(task: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> demo_search.SearchResult:
    """The notebook's search: ``demo_search.run`` with the user's function as the scorer."""
    harness.ray_address()
    root, _ = task
    db = tmp_path_factory.mktemp("api-db") / "notebook.db"
    config = config_for(root, "notebook", db)
    del config["database"], config["strategy"]["max_steps"], config["decoding"]["max_tokens"]
    # the database, and overrides in both spellings, as keyword arguments
    return demo_search.run(config, scorer=exact, db=harness.sqlite_url(db), strategy__max_steps=2,
                           **{"decoding.max_tokens": 16})


def test_a_notebook_session_runs_loads_and_reads_the_evaluations_into_pandas(
    searched: demo_search.SearchResult, task: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    pytest.importorskip("pandas")
    _, labels = task
    result = demo_search.load("notebook", db=searched.config["database"]["url"])
    evaluations = result.evaluations.to_pandas()
    trajectory = result.trajectory.to_pandas()

    assert result == searched
    assert (result.config["strategy"]["max_steps"], result.config["decoding"]["max_tokens"]) == (2, 16)
    assert (result.status, result.config["scorer"]["kind"]) == ("finished", "custom")
    assert result.config["scorer"]["custom"] == {"name": "exact", "version": "1"}
    # the user's function drove the search: the base set knows no rule, the chosen demonstration is a right one
    assert trajectory["score"].iloc[0] < 0.5 <= 0.9 <= trajectory["score"].iloc[-1]
    assert [labels[item] for item in trajectory["chosen_item"].iloc[1:]] == ["right"] * (len(trajectory) - 1)
    # every pair was scored by the function, and the stored score is exactly what it returns
    assert len(evaluations) == PROMPTS * len(result.candidates) >= PROMPTS * (1 + len(labels))
    assert evaluations["error"].isna().all()
    recomputed = [exact(p, a, r) for p, a, r in zip(evaluations["prompt"], evaluations["answer"],
                                                     evaluations["reference"], strict=True)]
    assert evaluations["score"].tolist() == recomputed
    assert set(recomputed) == {0.0, 1.0}
    chosen = evaluations[evaluations["set_key"] == trajectory["set_key"].iloc[-1]]
    assert chosen["score"].mean() == pytest.approx(trajectory["score"].iloc[-1])

    document = demo_search.export("notebook", db=result.config["database"]["url"], path=tmp_path / "best.json")
    assert document.search.scorer == {"kind": "custom", "custom": {"name": "exact", "version": "1"}}
    assert [d.id for d in document.demonstrations if d.role == "selected"] == list(result.best_demo_ids)
    assert (tmp_path / "best.json").is_file()


def test_a_search_scored_by_an_entry_point_is_interrupted_then_resumed_through_the_api(
    searched: demo_search.SearchResult, task: tuple[Path, dict[str, str]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, _ = task
    install_scorer_distribution(tmp_path / "site", monkeypatch, module="notebook_scorers", source=EXACT_MATCH_SOURCE,
                                entry_points={"exact_ep": "notebook_scorers:exact"}, version="1.0")
    db = tmp_path / "resumed.db"
    config = config_for(root, "resumed", db, scorer={"kind": "custom", "custom": {"name": "exact_ep"}})
    config_file = tmp_path / "resumed.yaml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")

    with pytest.raises(KeyboardInterrupt):
        demo_search.run(config_file, progress=InterruptAfter(3))
    interrupted = demo_search.load("resumed", db=harness.sqlite_url(db))
    resumed = demo_search.resume("resumed", db=harness.sqlite_url(db))

    assert interrupted.status == "interrupted" and len(interrupted.trajectory) < len(searched.trajectory)
    assert resumed.status == "finished"
    assert resumed.config["scorer"]["custom"] == {"name": "exact_ep", "version": "1.0"}  # the distribution's
    # the same function on the same task: the same trajectory and scores as the uninterrupted search
    assert [(s.chosen_item, s.score, s.n) for s in resumed.trajectory] == [
        (s.chosen_item, s.score, s.n) for s in searched.trajectory
    ]
    assert sorted((e.set_key, e.prompt_id, e.answer, e.score) for e in resumed.evaluations) == sorted(
        (e.set_key, e.prompt_id, e.answer, e.score) for e in searched.evaluations
    )


def test_decoding_tuning_after_the_search_scores_its_trials_with_the_given_function(
    searched: demo_search.SearchResult, task: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, _ = task
    db = tmp_path / "tuned.db"
    shutil.copyfile(searched.config["database"]["url"].removeprefix("sqlite:///"), db)  # the fixture's stays as is
    answers: list[str] = []

    @demo_search.scorer_function("exact", version="1")
    def counting_exact(prompt: str, answer: str, reference: str | None) -> float:
        answers.append(answer)
        return exact(prompt, answer, reference)

    tuning = {"enabled": True, "n_trials": 3, "startup_trials": 3}
    tuned = demo_search.run(config_for(root, "notebook", db, tuning=tuning), scorer=counting_exact)
    document = demo_search.export("notebook", db=harness.sqlite_url(db))

    assert tuned.trajectory == searched.trajectory  # the finished search had nothing left to compute
    # Three trials, each scored with the function, except the one with the search's own settings: the search
    # generated and scored exactly those answers already, and the evaluation ledger serves them.
    assert len(answers) == 2 * PROMPTS
    assert document.decoding.tuned is not None and document.decoding.tuned.n_trials == 3


def test_another_version_or_name_of_the_scorer_function_refuses_to_continue_the_search(
    searched: demo_search.SearchResult, task: tuple[Path, dict[str, str]]
) -> None:
    root, _ = task
    url = searched.config["database"]["url"]
    config = config_for(root, "notebook", Path(url.removeprefix("sqlite:///")))
    exact_v2 = demo_search.scorer_function("exact", version="2")(exact.function)
    renamed = demo_search.scorer_function("exact_match", version="1")(exact.function)

    with pytest.raises(ResumeRefusedError) as by_run:
        demo_search.run(config, scorer=exact_v2)
    with pytest.raises(ResumeRefusedError) as by_resume:
        demo_search.resume("notebook", db=url, scorer=exact_v2)
    with pytest.raises(ResumeRefusedError) as by_name:
        demo_search.resume("notebook", db=url, scorer=renamed)
    with pytest.raises(ConfigError) as without:
        demo_search.resume("notebook", db=url)

    assert "differs: scorer.custom.version" in by_run.value.problems
    assert "differs: scorer.custom.version" in by_resume.value.problems
    assert "differs: scorer.custom.name" in by_name.value.problems
    assert str(without.value).startswith("scorer.custom.name: no scorer function named 'exact': pass it to "
                                         "demo_search.run(config, scorer=...)")
    assert demo_search.load("notebook", db=url) == searched  # nothing was written


def test_a_config_naming_an_unknown_custom_scorer_is_a_one_line_error(
    task: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, _ = task
    config = config_for(root, "unknown", tmp_path / "unknown.db",
                        scorer={"kind": "custom", "custom": {"name": "no_such_scorer"}})
    config_file = tmp_path / "unknown.yaml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")

    with pytest.raises(ConfigError) as raised:
        demo_search.run(config)
    cli = harness.invoke("run", str(config_file))

    message = ("scorer.custom.name: no scorer function named 'no_such_scorer': pass it to "
               "demo_search.run(config, scorer=...) or register it under the entry point group 'demo_search.scorers'")
    assert "\n" not in str(raised.value) and str(raised.value).startswith(message)
    assert cli.exit_code == 1
    assert [line for line in cli.output.splitlines() if line.strip()] == [f"error: {str(raised.value)}"]
    assert not (tmp_path / "unknown.db").exists()



@pytest.mark.parametrize("form", ["mapping", "file", "SearchConfig"])
def test_a_misspelt_keyword_override_is_named_like_a_misspelt_key(
    form: str, task: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, _ = task
    data = config_for(root, "typo", tmp_path / "typo.db")
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    config = {"mapping": data, "file": tmp_path / "typo.yaml", "SearchConfig": load_config_data(data)}[form]

    with pytest.raises(ConfigError) as raised:
        demo_search.run(config, scorer=exact, strategy__beam_widht=2)

    assert any("unknown key strategy.beam_widht (did you mean strategy.beam_width?)" in problem
               and "run() argument strategy__beam_widht=2" in problem for problem in raised.value.problems)
    assert not (tmp_path / "typo.db").exists()
