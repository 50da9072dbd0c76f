"""A tiny chat model that ends its turn with a control token, built in-process (no hub, no training).

The tokenizer is the bundled byte tokenizer plus ChatML's ``<|im_start|>`` and ``<|im_end|>`` as special tokens;
its EOS stays ``</s>``, so the end-of-turn is *not* the model's EOS (as for Qwen2 base models, whose EOS is
``<|endoftext|>``). It has no chat template of its own: a search gives ``CHATML`` as ``template.chat_template``.

The model is a 1-layer Llama made into a bigram table: its attention and MLP outputs are zeroed, so the residual
stream at each position is the current token's embedding, and ``lm_head`` maps that embedding to the next token
of ``SCRIPT``. After ChatML's generation prompt (``<|im_start|>assistant\\n``) greedy decoding therefore writes
``REPLY`` and then ``<|im_end|>``, and, past the end-of-turn, a newline and the reply again, on and on: an engine
that misses the end-of-turn id runs on to ``max_tokens``. Every other token's next token is arbitrary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
REPLY = "OK!"
SCALE = 10.0
"""lm_head weight of a scripted pair: its logit is SCALE * sqrt(hidden) against ~0.1 of that for any other token."""


def chat_tokenizer() -> Any:
    """The byte tokenizer with ``<|im_start|>`` and ``<|im_end|>`` added as special tokens (ids 259 and 260)."""
    from workers.tiny import build_byte_tokenizer

    tokenizer = build_byte_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": [IM_START, IM_END]})
    return tokenizer


def script(tokenizer: Any) -> list[tuple[int, int]]:
    """(token, next token) pairs: newline -> the reply's characters -> ``<|im_end|>`` -> newline."""
    ids = tokenizer.encode("\n" + REPLY, add_special_tokens=False) + [tokenizer.convert_tokens_to_ids(IM_END)]
    return list(zip(ids, ids[1:] + ids[:1], strict=True))


def build_chat_model_dir(path: Path) -> Path:
    """Save the scripted model and its tokenizer to ``path`` (HF format, fp32) and return ``path``."""
    import torch
    from transformers import LlamaForCausalLM

    from workers.tiny import tiny_llama_config

    tokenizer = chat_tokenizer()
    config = tiny_llama_config(
        len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=1,
        num_attention_heads=4,  # heads of 32 dimensions: the least vLLM's CPU attention takes
        num_key_value_heads=2,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(torch.float32)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embeddings = torch.randn(config.vocab_size, config.hidden_size)
        model.model.embed_tokens.weight.copy_(embeddings)
        directions = embeddings / embeddings.norm(dim=1, keepdim=True)
        head = torch.zeros(config.vocab_size, config.hidden_size)
        for token, following in script(tokenizer):
            head[following] += SCALE * directions[token]
        model.lm_head.weight.copy_(head)
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
