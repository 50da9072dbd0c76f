"""Where the bundled tiny model lives (``MODEL_DIR``, re-exported as ``workers.tiny.MODEL_DIR``), and loading it."""

from __future__ import annotations

import logging
from pathlib import Path

from workers.errors import EngineError

logger = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parent / "model"
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def load_tiny(device: str = "cpu", model_dir: str | Path | None = None):
    """The tiny model (fp32, in eval mode, on ``device``) and its byte-level tokenizer, as ``(model, tokenizer)``.

    ``model_dir`` defaults to the bundled ``MODEL_DIR``. Raises :class:`EngineError` naming the missing files and
    the command that trains the model when the directory is incomplete.
    """
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    path = Path(model_dir) if model_dir is not None else MODEL_DIR
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise EngineError(
            f"tiny model directory {path} lacks {', '.join(missing)}; it ships with the package, or rebuild it "
            "with `python scripts/train_tiny_model.py` from the repository root"
        )
    logger.info("loading tiny model from %s on %s", path, device)
    model = LlamaForCausalLM.from_pretrained(path, dtype=torch.float32).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    return model, tokenizer
