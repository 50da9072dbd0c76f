"""Decoding tuning on real parts: Ray actors running the transformers engine, the match scorer, SQLite / PostgreSQL.

* A poor starting point (temperature 2.0, no repetition penalty) is improved measurably on the bundled tiny model,
  the tuned parameters never score below the enqueued first trials, and the export carries them.
* ``demo-search run`` with ``tuning.enabled`` is SIGKILLed mid-study (failpoint ``tuning_trial_scored``);
  ``demo-search tune`` resumes it to exactly ``n_trials`` completed trials, with no trial number twice.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import signal
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from typer.testing import CliRunner, Result

from db import Store
from demo_search.assembly import build_template, decoding_params, engine_spec
from demo_search.cli import app
from demo_search.config import load_config
from demo_search.exports import ExportDocument, build_export
from demo_search.inputs import load_tokenizer
from demo_search.pipeline import run as run_search
from demo_search.scoring.match import MatchScorer
from demo_search.synthetic import make_heldout
from demo_search.tuning.prompt import TuningPrompt, best_set_prompt
from demo_search.tuning.results import tuned_best_set
from demo_search.tuning.space import SEARCH_SETTINGS
from demo_search.tuning.study import FIRST_TRIAL_ATTR
from tests.demo_search.tuning import planted
from tests.support import harness
from workers.decoding import DecodingParams
from workers.engines import create_engine

WIDE = {"COLUMNS": harness.WIDE}
TOKENS = re.compile(r"tokens +computed ([\d,]+), from cache ([\d,]+)")
N_TRIALS = 8
KILLED_AT = 4
"""The driver dies after scoring its 4th trial, before telling the study: trials 0-2 complete, 3 left running."""


@pytest.fixture(scope="module")
def ray_address() -> str:
    return harness.ray_address()


def the_study(url: str, name: str) -> optuna.Study:
    names = [n for n in optuna.get_all_study_names(storage=url) if n.startswith(f"demo-search:{name}:")]
    assert len(names) == 1, names
    return optuna.load_study(study_name=names[0], storage=url)


def tune_in_process(name: str, url: str) -> Result:
    return CliRunner().invoke(app, ["tune", name, "--db", url], env=WIDE)


def exported(store: Store, name: str) -> dict:
    """The export document of search ``name`` as ``demo-search export`` writes it, with its stored tuning."""
    return build_export(store, name, tuned=tuned_best_set(store, name)).to_payload()


def match_rate(engine, template, prompt: TuningPrompt, tokenizer, params: DecodingParams) -> float:
    """Exact match of ``params``'s answers on ``prompt``'s held-out prompts, straight from an in-process engine."""
    stop = tuple(dict.fromkeys((*params.stop, *template.stop_strings)))
    result = engine.generate(prompt.tree(template, tokenizer), dataclasses.replace(params, stop=stop))
    answers = [dataclasses.replace(g, text=template.extract_answer(g.text)) for g in result.generations]
    scores = [e.score for e in MatchScorer("exact").evaluate(answers, prompt.prompts_by_id)]
    return sum(scores) / len(scores)


def test_a_poor_start_is_improved_and_never_undercut(tmp_path: Path, ray_address: str) -> None:
    model = planted.trained_model()
    url = harness.sqlite_url(tmp_path / "search.db")
    task = planted.write_task(
        tmp_path, model, name="improve", database_url=url,
        tuning={"enabled": True, "n_trials": 10, "parallel_trials": 2, "seed": 0,
                "ranges": {"temperature": {"low": 0.0, "high": 2.0}}},
    )
    config = load_config(task.config)

    run_search(config)  # the search, then (tuning.enabled) the study on its best set

    study = the_study(url, "improve")
    completed = study.get_trials(states=(TrialState.COMPLETE,))
    first = {t.user_attrs[FIRST_TRIAL_ATTR]: t for t in completed if FIRST_TRIAL_ATTR in t.user_attrs}
    assert len(completed) == 10 and set(first) == {SEARCH_SETTINGS, "urial-dense", "urial-moe"}
    assert first[SEARCH_SETTINGS].params == {"temperature": 2.0, "top_p": 1.0, "repetition_penalty": 1.0}
    with Store.open(url, create=False) as store:
        [result] = store.tuning_results("improve")
        prompt = best_set_prompt(store, "improve")
        document = exported(store, "improve")
    best_value = max(t.value for t in completed)
    assert result.score == best_value >= max(t.value for t in first.values())
    assert result.baseline_score == first[SEARCH_SETTINGS].value
    assert result.score - result.baseline_score >= 0.25, (result.score, result.baseline_score)
    assert result.n_trials == 10 and set(result.importances) <= {"temperature", "top_p", "repetition_penalty"}

    ExportDocument.from_payload(document)  # reads back
    tuned = document["decoding"]["tuned"]
    assert tuned["params"] == {**document["decoding"]["searched"], **{k: result.params[k] for k in result.params},
                               "seed": 0}
    assert (tuned["score"], tuned["baseline_score"], tuned["n_trials"]) == (result.score, result.baseline_score, 10)
    assert [d["id"] for d in document["demonstrations"]] == list(result.demo_ids) == list(prompt.demo_ids)

    # The gain is not the luck of the 16 prompts tuned on: fresh prompts of the rule, straight from an engine.
    tokenizer = load_tokenizer(config)
    template = build_template(config, tokenizer)
    used = frozenset(p.query for p in prompt.heldout) | {d.query for d in prompt.demonstrations}
    fresh = dataclasses.replace(prompt, heldout=tuple(make_heldout(planted.RULE, 24, random.Random(1), exclude=used)))
    engine = create_engine(engine_spec(config))
    try:
        tuned_params = DecodingParams(**{**tuned["params"], "stop": tuple(tuned["params"]["stop"])})
        tuned_rate = match_rate(engine, template, fresh, tokenizer, tuned_params)
        poor_rate = match_rate(engine, template, fresh, tokenizer, decoding_params(config))
    finally:
        engine.close()
    assert tuned_rate - poor_rate >= 0.2, (tuned_rate, poor_rate)

    # An export's demonstrations (here with the first one dropped) get their own study on the same search.
    edited = {**document, "demonstrations": document["demonstrations"][1:]}
    (tmp_path / "edited.json").write_text(json.dumps(edited), encoding="utf-8")
    other = CliRunner().invoke(
        app, ["tune", "improve", "--db", url, "--from-export", str(tmp_path / "edited.json"), "--trials", "3"], env=WIDE
    )
    assert other.exit_code == 0, other.output
    assert f"tuned the demonstrations of {tmp_path / 'edited.json'}" in other.output
    with Store.open(url, create=False) as store:
        results = {r.study_name: r for r in store.tuning_results("improve")}
        assert exported(store, "improve")["decoding"]["tuned"]["n_trials"] == 10  # still the best set's study
    assert len(results) == 2 and results[result.study_name] == result
    [from_export] = [r for r in results.values() if r.study_name != result.study_name]
    assert (from_export.n_trials, from_export.demo_ids) == (3, tuple(d["id"] for d in edited["demonstrations"]))


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_killed_study_resumes_to_exactly_n_trials(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, ray_address: str, model_dir: Path
) -> None:
    url = harness.sqlite_url(tmp_path / "search.db") if backend == "sqlite" else request.getfixturevalue("postgres_url")
    task = planted.write_task(
        tmp_path, model_dir, name="crash", database_url=url,
        tuning={"enabled": True, "n_trials": N_TRIALS, "parallel_trials": 2, "seed": 0},
        decoding={"temperature": 0.0},  # the search's own answers are stored: keep them deterministic
    )

    killed = harness.run_cli(["run", str(task.config)], cwd=tmp_path, failpoints=f"tuning_trial_scored:{KILLED_AT}")

    assert killed.returncode == -signal.SIGKILL, killed.describe()
    states = {t.number: t.state for t in the_study(url, "crash").trials}
    assert states == {0: TrialState.COMPLETE, 1: TrialState.COMPLETE, 2: TrialState.COMPLETE, 3: TrialState.RUNNING}

    resumed = tune_in_process("crash", url)  # joins this process's Ray

    assert resumed.exit_code == 0, resumed.output
    assert "1 left running by a dead driver re-run" in resumed.output, resumed.output
    computed, cached = (int(n.replace(",", "")) for n in TOKENS.search(resumed.output).groups())
    assert cached > 4 * computed  # every trial's prompts share the whole context, prefilled once per actor
    trials = the_study(url, "crash").trials
    numbers = [t.number for t in trials]
    assert numbers == list(range(len(numbers)))  # no trial number twice, none skipped
    completed = [t for t in trials if t.state is TrialState.COMPLETE]
    assert len(completed) == N_TRIALS
    assert [t.number for t in trials if t.state is TrialState.FAIL] == [3]
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    labels = [t.user_attrs[FIRST_TRIAL_ATTR] for t in completed if FIRST_TRIAL_ATTR in t.user_attrs]
    assert sorted(labels) == sorted([SEARCH_SETTINGS, "urial-dense", "urial-moe"])
    with Store.open(url, create=False) as store:
        [result] = store.tuning_results("crash")
        document = exported(store, "crash")
    assert result.n_trials == N_TRIALS and result.score == max(t.value for t in completed)
    assert document["decoding"]["tuned"]["n_trials"] == N_TRIALS

    again = tune_in_process("crash", url)  # nothing left to run, so no engine is started
    assert again.exit_code == 0 and "(0 run now, 0 failed)" in again.output, again.output
    assert len(the_study(url, "crash").trials) == len(trials)
    status = CliRunner().invoke(app, ["status", "crash", "--db", url], env=WIDE)
    assert f"decoding tuning study {result.study_name}: {N_TRIALS} completed trial(s)" in status.output
