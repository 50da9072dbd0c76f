"""The driver's context window comes from the model's config (``demo_search.model_limits``), never a fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import Gemma2Config, GPT2Config, LlamaConfig, MistralConfig, PretrainedConfig, Qwen2Config

from demo_search.assembly import context_window, engine_spec
from demo_search.config import SearchConfig
from demo_search.errors import ConfigError
from demo_search.model_limits import DEFAULT_MAX_CONTEXT, ModelWindow, model_window, resolve_context_window


def search_config(tmp_path: Path, model_config: PretrainedConfig, **model: object) -> SearchConfig:
    """A search over a local model directory holding only ``model_config`` (the driver never reads weights)."""
    directory = tmp_path / "model"
    model_config.save_pretrained(directory)
    for name in ("pool.jsonl", "heldout.jsonl"):
        (tmp_path / name).write_text("{}\n", encoding="utf-8")
    data = {"pool": {"path": str(tmp_path / "pool.jsonl")}, "heldout": {"path": str(tmp_path / "heldout.jsonl")}}
    return SearchConfig.model_validate({"name": "s", "data": data, "model": {"path": str(directory), **model}})


@pytest.mark.parametrize(
    ("model_config", "expected"),
    [
        (LlamaConfig(max_position_embeddings=131072), ModelWindow(131072)),
        (GPT2Config(n_positions=1024), ModelWindow(1024)),
        (MistralConfig(max_position_embeddings=32768, sliding_window=4096), ModelWindow(32768, 4096)),
        (MistralConfig(max_position_embeddings=32768, sliding_window=None), ModelWindow(32768)),
        (Qwen2Config(max_position_embeddings=32768, sliding_window=4096, use_sliding_window=False), ModelWindow(32768)),
        (Gemma2Config(max_position_embeddings=8192, sliding_window=4096), ModelWindow(8192)),
    ],
    ids=["llama-3.1", "gpt2-n_positions", "mistral-v0.1-sliding", "mistral-v0.2", "qwen2-unused-window",
         "gemma2-alternating"],
)
def test_the_window_is_read_from_positions_and_a_sliding_window_that_bounds_every_layer(model_config, expected):
    assert model_window(model_config, "m") == expected


def test_a_config_without_a_length_is_refused_not_guessed():
    with pytest.raises(ConfigError, match="states no context length .*; set model.max_context"):
        model_window(PretrainedConfig(), "org/odd")


@pytest.mark.parametrize(
    ("model_config", "engine", "expected"),
    [
        (LlamaConfig(max_position_embeddings=131072), "vllm", DEFAULT_MAX_CONTEXT),
        (LlamaConfig(max_position_embeddings=131072), "transformers", DEFAULT_MAX_CONTEXT),
        (LlamaConfig(max_position_embeddings=2048), "transformers", 2048),
        (LlamaConfig(max_position_embeddings=2048), "vllm", 2047),
        (MistralConfig(max_position_embeddings=32768, sliding_window=4096), "vllm", 4096),
    ],
)
def test_the_default_is_the_models_window_capped_and_reaches_the_engines(tmp_path, model_config, engine, expected):
    config = search_config(tmp_path, model_config, engine=engine)
    assert context_window(config) == expected
    assert engine_spec(config).max_context == expected


def test_validate_is_told_where_the_window_comes_from(tmp_path):
    mistral = MistralConfig(max_position_embeddings=32768, sliding_window=4096)
    assert resolve_context_window(search_config(tmp_path, mistral)).source == "the model's sliding window of 4096"
    llama = LlamaConfig(max_position_embeddings=131072)
    assert resolve_context_window(search_config(tmp_path, llama, engine="vllm")).source == (
        f"the model's 131072 positions less one for vLLM, capped at {DEFAULT_MAX_CONTEXT} (model.max_context)"
    )


def test_an_explicit_max_context_is_kept_up_to_the_models_positions(tmp_path):
    mistral = MistralConfig(max_position_embeddings=32768, sliding_window=4096)
    assert context_window(search_config(tmp_path, mistral, max_context=8192)) == 8192
    with pytest.raises(ConfigError, match="model.max_context is 40000 but model .* has 32768 positions"):
        context_window(search_config(tmp_path, mistral, max_context=40000))
    with pytest.raises(ConfigError, match=r"has 2048 positions \(vLLM needs one of them spare\); set it to at most 2047"):
        context_window(search_config(tmp_path, LlamaConfig(max_position_embeddings=2048), max_context=2048,
                                     engine="vllm"))
