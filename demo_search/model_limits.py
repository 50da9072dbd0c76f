"""The context window a search plans its prompts for, read from the model's config (never a silent default).

A model's config states how many positions it has (``max_position_embeddings`` or a synonym) and, for some, a
sliding window that bounds every layer's attention. The driver's window is ``model.max_context`` when set (up to
the model's positions), else the model's own window capped at ``DEFAULT_MAX_CONTEXT``; the engines are started
with the same number (``demo_search.assembly.engine_spec``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from demo_search.config import SearchConfig
from demo_search.errors import ConfigError
from demo_search.inputs import load_model_config, model_source

DEFAULT_MAX_CONTEXT = 32768
"""The default context window's cap (see the README, ``model.max_context``): a 7-8B model's key/value cache for
one 32k-token request (4 GiB for Llama-3.1-8B in bfloat16) plus its weights fits vLLM's budget on a 24 GB GPU,
where Llama-3.1's own 131,072 positions (16 GiB of cache) make vLLM refuse to start."""

_POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length")


@dataclass(frozen=True)
class ModelWindow:
    """What a model's config says about its context: ``positions`` it has position embeddings for, and the
    ``sliding_window`` when one bounds every layer's attention (``None`` when some layer sees the whole prompt)."""

    positions: int
    sliding_window: int | None = None

    @property
    def tokens(self) -> int:
        """The longest prompt in which every token attends to every earlier one."""
        return min(self.positions, self.sliding_window or self.positions)


def model_window(model_config: Any, model: str) -> ModelWindow:
    """The ``ModelWindow`` of a transformers config (its text part, for multimodal models); ``model`` names it
    in the ``ConfigError`` raised when the config states no length."""
    text = model_config.get_text_config()
    positions = next((getattr(text, key) for key in _POSITION_KEYS if getattr(text, key, None)), None)
    if positions is None:
        raise ConfigError(f"the config of model {model} states no context length ({', '.join(_POSITION_KEYS)}); "
                          "set model.max_context")
    return ModelWindow(int(positions), _bounding_sliding_window(text))


def _bounding_sliding_window(text_config: Any) -> int | None:
    window = getattr(text_config, "sliding_window", None)
    if not window or getattr(text_config, "use_sliding_window", True) is False:
        return None
    layer_types = getattr(text_config, "layer_types", None)
    if layer_types and any(kind != "sliding_attention" for kind in layer_types):
        return None  # full-attention layers (e.g. Gemma 2 alternates) see the whole prompt
    return int(window)


@dataclass(frozen=True)
class ContextWindow:
    """The driver's context window (``tokens``) and where it comes from (``source``, for ``validate``)."""

    tokens: int
    source: str


def resolve_context_window(config: SearchConfig) -> ContextWindow:
    """``model.max_context`` when set (refused above the model's positions), else the model's window (its
    positions, or its sliding window when that bounds attention) capped at ``DEFAULT_MAX_CONTEXT``.

    vLLM needs one position more than the longest request, so with engine ``vllm`` the model's positions count
    one less. Reads the model's config (``load_model_config``): a missing model is a ``ConfigError``.
    """
    source = model_source(config)
    window = model_window(load_model_config(config), source.describe())
    spare = 1 if config.model.engine == "vllm" else 0
    usable = window.positions - spare
    if config.model.max_context is not None:
        if config.model.max_context > usable:
            raise ConfigError(
                f"model.max_context is {config.model.max_context} but model {source.describe()} has "
                f"{window.positions} positions" + (" (vLLM needs one of them spare)" if spare else "")
                + f"; set it to at most {usable}, or leave it out for the model's own window"
            )
        return ContextWindow(config.model.max_context, "model.max_context")
    own = min(window.tokens, usable)
    described = (f"the model's sliding window of {window.sliding_window}" if own == window.sliding_window
                 else f"the model's {window.positions} positions" + (" less one for vLLM" if spare else ""))
    if own > DEFAULT_MAX_CONTEXT:
        return ContextWindow(DEFAULT_MAX_CONTEXT, f"{described}, capped at {DEFAULT_MAX_CONTEXT} (model.max_context)")
    return ContextWindow(own, described)
