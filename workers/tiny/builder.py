"""Build small Llama models from a config: a byte-level tokenizer and randomly initialised weights.

Used by the training script of the bundled tiny model, by tests (equality of engines) and by benchmarks.
Nothing here downloads anything.
"""

from __future__ import annotations

from pathlib import Path

BOS, EOS, PAD = "<s>", "</s>", "<pad>"


def build_byte_tokenizer():
    """A byte-level tokenizer (256 byte tokens + BOS/EOS/PAD): every UTF-8 text round-trips exactly.

    No merges and no pre-split on spaces, so one byte is one token and the ids of a concatenation are the
    concatenation of the ids.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate([PAD, BOS, EOS] + sorted(alphabet))}
    raw = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=None))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    raw.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token=BOS, eos_token=EOS, pad_token=PAD, clean_up_tokenization_spaces=False
    )


def tiny_llama_config(vocab_size: int, **overrides):
    """A small LlamaConfig; ``overrides`` replace any of the defaults below."""
    from transformers import LlamaConfig

    settings = dict(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=384,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    settings.update(overrides)
    return LlamaConfig(**settings)


def build_random_model_dir(path: str | Path, *, seed: int = 0, **config_overrides) -> Path:
    """Save a randomly initialised tiny Llama (fp32) and the byte tokenizer to ``path`` in HF format."""
    import torch
    from transformers import LlamaForCausalLM

    path = Path(path)
    tokenizer = build_byte_tokenizer()
    config = tiny_llama_config(len(tokenizer), **config_overrides)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.float32)
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
