"""The schema (``demo_search.config.schema``): checks across fields, and conversions to runtime values."""

from __future__ import annotations

import pytest

from demo_search.config import SearchConfig, load_config, load_config_text
from tests.demo_search.config.config_files import BASE, problems_of, write
from workers.decoding import DecodingParams


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


def test_settings_of_an_unselected_scorer_are_not_required(workspace):
    config = load_config(write(workspace, BASE + "scorer: {kind: loglik, judge: {backend: http}}\n"))
    assert config.scorer.judge.base_url is None


def test_scorer_says_whether_it_needs_references(workspace):
    config = load_config(write(workspace, BASE + "scorer: {kind: match}\n"))
    assert config.scorer.needs_references and config.scorer.generates
    judge = "scorer: {kind: judge, judge: {base_url: http://x, model_name: m}}\n"
    config = load_config(write(workspace, BASE + judge))
    assert not config.scorer.needs_references


# --- conversions ------------------------------------------------------------------------------------------------


def test_to_decoding_params_carries_every_decoding_field(workspace):
    path = write(workspace, BASE + "decoding: {temperature: 0.5, top_p: 0.9, top_k: 40, repetition_penalty: 1.15,"
                                   " max_tokens: 64, stop: ['# Query'], seed: 3}\n")
    assert load_config(path).to_decoding_params() == DecodingParams(
        temperature=0.5, top_p=0.9, top_k=40, repetition_penalty=1.15, max_tokens=64, stop=("# Query",), seed=3
    )


def test_engine_spec_follows_model_and_workers(workspace):
    path = write(workspace, BASE.replace(
        "{path: model}",
        "{path: model, engine: vllm, dtype: bfloat16, max_context: 4096, batch_size: 4, tensor_parallel_size: 2,"
        " options: {gpu_memory_utilization: 0.8}}",
    ) + "workers: {gpus_per_worker: 2}\n")
    spec = load_config(path).engine_spec()
    assert (spec.kind, spec.model, spec.dtype, spec.device) == ("vllm", str(workspace / "model"), "bfloat16", "cuda")
    assert (spec.max_context, spec.batch_size) == (4096, 4)
    assert spec.options == {"gpu_memory_utilization": 0.8, "tensor_parallel_size": 2}
    assert load_config(write(workspace, BASE)).engine_spec().device == "cpu"


def test_to_yaml_reads_back_to_an_equal_config(workspace, tmp_path):
    config = load_config(write(workspace, BASE + "strategy: {kind: beam, beam_width: 2}\ndecoding: {stop: [x]}\n"))
    assert load_config_text(config.to_yaml(), base_dir=tmp_path / "anywhere") == config


def test_search_config_can_be_built_in_code_with_defaults(workspace):
    config = SearchConfig.model_validate(
        {"name": "coded", "model": {"path": "model"},
         "data": {"pool": {"path": "pool.jsonl"}, "heldout": {"path": "heldout.jsonl"}}},
        context={"base_dir": workspace},
    )
    assert config.data.pool.path == str(workspace / "pool.jsonl")
    assert config.to_decoding_params() == DecodingParams()
