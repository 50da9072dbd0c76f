"""Real tokenizers kept as test data (``tests/data/tokenizers/<name>/``), loaded without any hub.

Each folder holds ``tokenizer.json.gz`` (the ``tokenizers`` pipeline, gzipped) and ``tokenizer_config.json`` (its
special tokens; ``legacy`` records the SentencePiece setting the pipeline was built with). They were made by
``scripts/convert_test_tokenizers.py``; ``tests/data/tokenizers/README.md`` says where each comes from.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any

TOKENIZERS_DIR = Path(__file__).resolve().parents[1] / "data" / "tokenizers"

REAL_TOKENIZERS: tuple[str, ...] = (
    "llama3",
    "qwen2",
    "mistral-v1-legacy",
    "mistral-v1",
    "mistral-tekken",
    "gpt-neox",
)
"""Llama-3 BPE, Qwen2, Mistral-7B-v0.1's SentencePiece with ``legacy`` true and false, Mistral tekken, GPT-NeoX."""

ADDS_BOS: dict[str, bool] = {
    "llama3": True,
    "qwen2": False,
    "mistral-v1-legacy": True,
    "mistral-v1": True,
    "mistral-tekken": True,
    "gpt-neox": False,
}
"""Whether each model's own tokenizer puts a BOS token first (as its hub config does)."""


def _config(name: str) -> dict[str, Any]:
    config = json.loads((TOKENIZERS_DIR / name / "tokenizer_config.json").read_text(encoding="utf-8"))
    config.pop("legacy", None)  # how the pipeline was built; the pipeline itself is in tokenizer.json
    return config


def _tokenizer_json(name: str) -> str:
    if name not in REAL_TOKENIZERS:
        raise KeyError(f"no test tokenizer {name!r}; known: {', '.join(REAL_TOKENIZERS)}")
    with gzip.open(TOKENIZERS_DIR / name / "tokenizer.json.gz", "rt", encoding="utf-8") as handle:
        return handle.read()


@functools.cache
def load_real_tokenizer(name: str):
    """The transformers (fast) tokenizer ``name`` of ``REAL_TOKENIZERS``; cached, so treat it as read-only."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer.from_str(_tokenizer_json(name))
    return PreTrainedTokenizerFast(tokenizer_object=raw, **_config(name))


def write_tokenizer_dir(name: str, directory: str | Path) -> Path:
    """Write ``name`` as a Hugging Face tokenizer folder (``tokenizer.json`` + ``tokenizer_config.json``) that
    ``AutoTokenizer.from_pretrained(directory)`` loads; returns ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tokenizer.json").write_text(_tokenizer_json(name), encoding="utf-8")
    config = {**_config(name), "tokenizer_class": "PreTrainedTokenizerFast"}
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return directory


__all__ = ["ADDS_BOS", "REAL_TOKENIZERS", "TOKENIZERS_DIR", "load_real_tokenizer", "write_tokenizer_dir"]
