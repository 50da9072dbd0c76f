"""The schema (``demo_search.config.schema``): checks across fields, and conversions to runtime values."""

from __future__ import annotations

import pytest

from demo_search.config import DecodingConfig, SearchConfig, load_config, load_config_text, load_stored_config
from tests.demo_search.config.config_files import BASE, problems_of, write

# --- checks across fields ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("strategy: {kind: greedy, beam_width: 3}",
         ["strategy.beam_width is 3 but strategy.kind is 'greedy'; only kind beam keeps more than one set per step "
          "(set strategy.kind: beam, or strategy.beam_width: 1)"]),
        ("scorer: {kind: judge, judge: {backend: http}}",
         ["scorer.judge.base_url is required when scorer.judge.backend is http",
          "scorer.judge.model_name is required when scorer.judge.backend is http"]),
        ("scorer: {kind: judge, judge: {backend: local}}",
         ["scorer.judge.model is required when scorer.judge.backend is local"]),
        ("scorer: {kind: reward}", ["scorer.reward.model is required when scorer.kind is reward"]),
        ("scorer: {match: {mode: exact, pattern: 'x+'}}",
         ["scorer.match.pattern is only used with scorer.match.mode regex, but the mode is 'exact'"]),
    ],
)
def test_cross_field_problems_name_the_keys(workspace, section, expected):
    path = write(workspace, BASE + section + "\n")
    assert problems_of(path) == tuple(f"{path}:6: {line}" for line in expected)


def test_tensor_parallel_needs_vllm_and_enough_gpus(workspace):
    path = write(workspace, BASE.replace("{path: model}", "{path: model, tensor_parallel_size: 2}"))
    assert problems_of(path) == (
        "model.tensor_parallel_size is 2 but only engine vllm splits a model across GPUs "
        "(model.engine is 'transformers')",
        "workers.gpus_per_worker must be >= model.tensor_parallel_size (2), got 0",
    )


JUDGE = "scorer: {kind: judge, judge: {base_url: http://x, model_name: m%s}}\n"


@pytest.mark.parametrize(("sections", "expected"), [
    ("strategy: {budget: {max_usd: 5}}\n",
     "strategy.budget.max_usd limits what the judge costs, but scorer.kind is 'loglik', which calls no judge "
     "(remove strategy.budget.max_usd)"),
    ("strategy: {budget: {max_usd: 5}}\n" + JUDGE % "",
     "strategy.budget.max_usd needs scorer.judge.price ({input_per_mtok: ..., output_per_mtok: ...}, USD per "
     "million tokens) to turn the judge's tokens into dollars"),
])
def test_a_usd_budget_needs_a_judge_with_a_price(workspace, sections, expected):
    path = write(workspace, BASE + sections)
    (problem,) = problems_of(path)
    assert problem.endswith(expected), problem


def test_a_priced_judge_with_a_usd_budget_loads(workspace):
    price = ", price: {input_per_mtok: 3, output_per_mtok: 15.0}"
    config = load_config(write(workspace, BASE + "strategy: {budget: {max_usd: 2.5}}\n" + JUDGE % price))
    assert config.strategy.budget.max_usd == 2.5
    assert config.scorer.judge.price.usd(1_000_000, 100_000) == pytest.approx(3 + 1.5)


def test_settings_of_an_unselected_scorer_are_not_required(workspace):
    config = load_config(write(workspace, BASE + "scorer: {kind: loglik, judge: {backend: http}}\n"))
    assert config.scorer.judge.base_url is None


def test_scorer_says_whether_it_needs_references(workspace):
    config = load_config(write(workspace, BASE + "scorer: {kind: match}\n"))
    assert config.scorer.needs_references and config.scorer.generates
    judge = "scorer: {kind: judge, judge: {base_url: http://x, model_name: m}}\n"
    config = load_config(write(workspace, BASE + judge))
    assert not config.scorer.needs_references


# --- stored and shown forms ------------------------------------------------------------------------------------


def test_to_yaml_reads_back_to_an_equal_config(workspace, tmp_path):
    config = load_config(write(workspace, BASE + "strategy: {kind: beam, beam_width: 2}\ndecoding: {stop: [x]}\n"))
    assert load_config_text(config.to_yaml(), base_dir=tmp_path / "anywhere") == config


def test_the_stored_form_validates_back_to_an_equal_config_with_the_password_masked(workspace):
    written = BASE + "strategy: {kind: beam, beam_width: 2}\ndecoding: {stop: [x], temperature: 0.5}\n"
    config = load_config(write(workspace, written), ["database.url=postgresql+psycopg://me:secret@db:5432/s"])
    stored = config.stored_form()

    assert "secret" not in str(stored)
    restored = load_stored_config(stored, source="stored", overrides=[f"database.url={config.database.url}"])
    assert restored == config


def test_search_config_can_be_built_in_code_with_defaults(workspace):
    config = SearchConfig.model_validate(
        {"name": "coded", "model": {"path": "model"},
         "data": {"pool": {"path": "pool.jsonl"}, "heldout": {"path": "heldout.jsonl"}}},
        context={"base_dir": workspace},
    )
    assert config.data.pool.path == str(workspace / "pool.jsonl")
    assert config.decoding == DecodingConfig()
