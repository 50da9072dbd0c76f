"""A real Hugging Face hub cache on disk, holding tiny random-weight Llama models, so hub ids work without a hub.

``cache_random_model`` saves a random ``LlamaForCausalLM`` sized for a given tokenizer directory (any tokenizer
transformers can load: the bundled byte tokenizer, converted Llama-3 / Qwen2 / Mistral / GPT-NeoX tokenizers) with
``save_pretrained`` and lays the files out the way huggingface_hub stores a download::

    <hub cache>/models--<org>--<name>/blobs/<sha256>                      the file contents
    <hub cache>/models--<org>--<name>/snapshots/<commit>/<file>         -> ../../blobs/<sha256>
    <hub cache>/models--<org>--<name>/refs/<revision>                   the commit (e.g. refs/main)

The code under test then finds the model through huggingface_hub's own cache resolution, exactly as it finds a
model fetched with ``hf download``. ``use_offline_hub`` points this process (and every process it starts
afterwards: CLI subprocesses, a local Ray and its actors) at such a cache, offline.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CachedModel:
    """A model placed in a hub cache: its hub id, the commit its revision points to, and the snapshot folder."""

    repo_id: str
    commit: str
    snapshot: Path


def use_offline_hub(home: Path) -> Path:
    """Make ``home`` this process's Hugging Face home, offline, and return its hub cache (``home/hub``).

    Sets ``HF_HOME``, ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE=1`` in the environment (inherited by processes started
    later) and in ``huggingface_hub.constants``, which read them once at import and which transformers and
    huggingface_hub consult at call time.
    """
    from huggingface_hub import constants

    cache = home / "hub"
    cache.mkdir(parents=True, exist_ok=True)
    os.environ.update(HF_HOME=str(home), HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1")
    constants.HF_HOME, constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = str(home), str(cache), True
    return cache


def cache_random_model(
    repo_id: str,
    tokenizer_dir: str | Path,
    *,
    hub_cache: str | Path | None = None,
    revision: str = "main",
    seed: int = 0,
    **config_overrides: Any,
) -> CachedModel:
    """Put a random tiny Llama with the tokenizer of ``tokenizer_dir`` into ``hub_cache`` (default: the current
    ``HF_HUB_CACHE``) as ``repo_id`` at ``revision`` (a branch or tag name, written under ``refs/``).

    The model's vocabulary is the tokenizer's (``len(tokenizer)``), its BOS/EOS/PAD ids the tokenizer's; its sizes
    are ``RANDOM_MODEL_CONFIG`` with ``config_overrides`` applied (e.g. ``max_position_embeddings``). The commit
    is a hash of the files, so equal inputs give an equal snapshot.
    """
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    repo = Path(hub_cache or constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo_id, repo_type="model")
    with tempfile.TemporaryDirectory() as staging:
        files = _save_random_model(Path(staging), Path(tokenizer_dir), seed, config_overrides)
        commit = hashlib.sha1(b"".join(name.encode() + b"\0" + data for name, data in files)).hexdigest()
        snapshot = repo / "snapshots" / commit
        for name, data in files:
            blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
            link = snapshot / name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.unlink(missing_ok=True)
            link.symlink_to(os.path.relpath(blob, link.parent))
    ref = repo / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(commit, encoding="utf-8")
    return CachedModel(repo_id=repo_id, commit=commit, snapshot=snapshot)


def _save_random_model(
    directory: Path, tokenizer_dir: Path, seed: int, config_overrides: dict[str, Any]
) -> list[tuple[str, bytes]]:
    """Save the tokenizer and a random model sized for it into ``directory``; its files as (name, contents)."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    from tests.workers.fakes import RANDOM_MODEL_CONFIG
    from workers.tiny.builder import tiny_llama_config

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    special = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    config = tiny_llama_config(len(tokenizer), **{**RANDOM_MODEL_CONFIG, **special, **config_overrides})
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.float32)
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return [
        (path.relative_to(directory).as_posix(), path.read_bytes())
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    ]
