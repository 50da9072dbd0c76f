"""The bundled tiny model: a small Llama with a byte-level tokenizer that learns rules in context.

``MODEL_DIR`` is the Hugging Face model directory shipped as package data (trained by
``scripts/train_tiny_model.py``); both engines load it by path, and :func:`load_tiny` loads it in-process.
"""

from workers.tiny.builder import build_byte_tokenizer, build_random_model_dir, tiny_llama_config
from workers.tiny.loader import MODEL_DIR, load_tiny

__all__ = ["MODEL_DIR", "build_byte_tokenizer", "build_random_model_dir", "load_tiny", "tiny_llama_config"]
