"""Fixtures shared by the workers tests: small randomly initialised Llama model directories (built once)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.workers.fakes import RANDOM_MODEL_CONFIG

TORCH_THREADS = 1  # faster than 2 on a shared 2-core machine (no spin-waiting between threads)


@pytest.fixture(scope="session")
def random_model_dir_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``build(seed=0, **config_overrides) -> Path``: a random tiny Llama + byte tokenizer in HF format.

    Overrides replace entries of ``RANDOM_MODEL_CONFIG`` (any ``LlamaConfig`` field). Each distinct
    ``(seed, config)`` is built once per session and shared.
    """
    import torch

    from workers.tiny import build_random_model_dir

    torch.set_num_threads(TORCH_THREADS)
    built: dict[tuple, Path] = {}

    def build(seed: int = 0, **config_overrides: Any) -> Path:
        config = {**RANDOM_MODEL_CONFIG, **config_overrides}
        key = (seed, tuple(sorted(config.items())))
        if key not in built:
            path = tmp_path_factory.mktemp(f"random-llama-seed{seed}")
            built[key] = build_random_model_dir(path, seed=seed, **config)
        return built[key]

    return build


@pytest.fixture(scope="session")
def random_model_dir(random_model_dir_factory: Callable[..., Path]) -> Path:
    """The default random tiny Llama (``RANDOM_MODEL_CONFIG``, seed 0)."""
    return random_model_dir_factory()
