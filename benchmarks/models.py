"""Benchmark models: a byte-level BPE trained on the shared data, and randomly initialised Llamas on top of it.

The bundled tiny model's byte vocabulary makes prompts 3-4x longer than a real model's; a BPE of 8k-32k tokens
trained on the URIAL and MT-Bench text brings the URIAL prompt to a realistic token count. Built models are cached
under ``benchmarks/.cache`` (git-ignored), keyed by their settings, so a benchmark builds each one once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.paths import CACHE_DIR, DATA_DIR

logger = logging.getLogger(__name__)

BOS, EOS, PAD = "<s>", "</s>", "<pad>"
CORPUS_FILES = ("urial.txt", "urial.greedy.50.txt", "urial.random.50.txt", "mt_bench_question.jsonl")


@dataclass(frozen=True)
class ModelShape:
    """A Llama's size. ``hidden_size / num_attention_heads`` must be >= 32 for vLLM's CPU attention."""

    name: str
    vocab_size: int = 8192
    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 4096
    seed: int = 0

    def __post_init__(self) -> None:
        head_dim = self.hidden_size // self.num_attention_heads
        if head_dim < 32:
            raise ValueError(f"{self.name}: head_dim {head_dim} < 32 (vLLM's CPU attention needs >= 32)")
        if not 8000 <= self.vocab_size <= 32768:
            raise ValueError(f"{self.name}: vocab_size must be in [8000, 32768], got {self.vocab_size}")


SMALL = ModelShape(name="bpe-small")
"""For token-count benchmarks (B1, B4): counts do not depend on the weights, so a 2-layer model will do."""

MEDIUM = ModelShape(
    name="bpe-medium",
    hidden_size=512,
    intermediate_size=1408,
    num_hidden_layers=6,
    num_attention_heads=8,
    num_key_value_heads=4,
)
"""For wall-clock benchmarks (B2): ~25 M parameters, so compute dominates Python overhead."""


def corpus_texts() -> list[str]:
    """The shared data's text: URIAL files as they are, MT-Bench questions' turns and references."""
    texts = []
    for name in CORPUS_FILES:
        path = DATA_DIR / name
        if name.endswith(".jsonl"):
            for line in path.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                texts.extend(record.get("turns", []))
                texts.extend(record.get("reference", []) or [])
        else:
            texts.append(path.read_text(encoding="utf-8"))
    return texts


def train_bpe_tokenizer(vocab_size: int):
    """A byte-level BPE (GPT-2 style pre-split) trained on :func:`corpus_texts`, as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(unk_token=None))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(corpus_texts(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token=BOS, eos_token=EOS, pad_token=PAD, clean_up_tokenization_spaces=False
    )


def model_dir(shape: ModelShape) -> Path:
    """The cached model directory of ``shape`` (built on first use): weights, config and the BPE tokenizer."""
    digest = hashlib.sha256(json.dumps(asdict(shape), sort_keys=True).encode()).hexdigest()[:10]
    path = CACHE_DIR / "models" / f"{shape.name}-{digest}"
    done = path / "shape.json"
    if done.exists() and json.loads(done.read_text()) == asdict(shape):
        return path
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    logger.info("building %s in %s", shape.name, path)
    tokenizer = train_bpe_tokenizer(shape.vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        max_position_embeddings=shape.max_position_embeddings,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(shape.seed)
    model = LlamaForCausalLM(config).to(torch.float32)
    model.generation_config.pad_token_id = config.pad_token_id
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    done.write_text(json.dumps(asdict(shape), sort_keys=True))
    return path


def parameter_count(path: Path) -> int:
    """Parameters of the model in ``path`` (tied embeddings counted once)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path)
    return sum(p.numel() for p in model.parameters())
