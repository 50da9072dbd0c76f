"""How engines find and load a model: hub ids at a revision through the Hugging Face cache, and ``dtype: auto``."""

from __future__ import annotations

import os

import pytest
import torch
from huggingface_hub import scan_cache_dir

import workers.tiny
from tests.support.hf_cache import cache_random_model
from workers.engines.dtype import resolve_dtype
from workers.engines.transformers_engine import TransformersEngine
from workers.errors import EngineError
from workers.spec import EngineSpec


@pytest.mark.parametrize(("dtype", "device", "bf16", "expected"), [
    ("auto", "cpu", True, "float32"),
    ("auto", "cuda", True, "bfloat16"),
    ("auto", "cuda:1", False, "float16"),
    ("float16", "cpu", True, "float16"),
    ("float32", "cuda", True, "float32"),
])
def test_auto_dtype_follows_the_device(monkeypatch, dtype, device, bf16, expected) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    assert resolve_dtype(dtype, device) == expected


def test_an_engine_spec_defaults_to_auto_which_loads_float32_on_cpu(hub_model) -> None:
    spec = EngineSpec(kind="transformers", model=hub_model.repo_id, batch_size=2)
    assert spec.dtype == "auto"
    engine = TransformersEngine.from_spec(spec)
    assert engine.dtype == "float32"
    assert {p.dtype for p in engine.model.parameters()} == {torch.float32}


def test_the_test_cache_is_a_real_hub_cache(hub_model) -> None:
    [repo] = [r for r in scan_cache_dir().repos if r.repo_id == hub_model.repo_id]
    [revision] = [r for r in repo.revisions if r.commit_hash == hub_model.commit]
    assert revision.refs == frozenset({"main"})
    assert {f.file_name for f in revision.files} >= {"config.json", "model.safetensors", "tokenizer.json"}
    config = hub_model.snapshot / "config.json"
    assert config.is_symlink() and os.readlink(config).startswith("../../blobs/")


def test_an_engine_loads_a_hub_id_at_the_revision_it_is_given(hub_model) -> None:
    repo_id = "tests-org/revisions"
    main = cache_random_model(repo_id, workers.tiny.MODEL_DIR, max_position_embeddings=256)
    tagged = cache_random_model(repo_id, workers.tiny.MODEL_DIR, revision="v2", max_position_embeddings=384)
    assert main.commit != tagged.commit

    def positions(revision: str | None) -> int:
        return TransformersEngine.from_spec(EngineSpec(kind="transformers", model=repo_id, revision=revision)).max_context

    assert (positions(None), positions("main"), positions("v2"), positions(tagged.commit)) == (256, 256, 384, 384)


def test_a_hub_id_missing_from_the_cache_names_the_cache_and_how_to_fetch_it() -> None:
    from huggingface_hub import constants

    spec = EngineSpec(kind="transformers", model="tests-org/absent", revision="v1")
    with pytest.raises(EngineError) as caught:
        TransformersEngine.from_spec(spec)
    message = str(caught.value)
    assert message.startswith(f"model tests-org/absent (revision v1): causal LM and tokenizer not found in the "
                              f"Hugging Face cache {constants.HF_HUB_CACHE} (offline: HF_HUB_OFFLINE=1)")
    assert "`hf download tests-org/absent --revision v1`" in message
