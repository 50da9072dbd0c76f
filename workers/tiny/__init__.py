"""The bundled tiny model: a small Llama with a byte-level tokenizer that learns rules in context.

``MODEL_DIR`` is the Hugging Face model directory shipped as package data (trained by
``scripts/train_tiny_model.py``); both engines load it by path, and :func:`load_tiny` loads it in-process.
"""

from pathlib import Path

from workers.tiny.builder import build_byte_tokenizer, build_random_model_dir, tiny_llama_config
from workers.tiny.loader import load_tiny

MODEL_DIR = Path(__file__).resolve().parent / "model"

__all__ = ["MODEL_DIR", "build_byte_tokenizer", "build_random_model_dir", "load_tiny", "tiny_llama_config"]
