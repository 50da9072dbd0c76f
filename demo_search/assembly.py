"""Build a search's runtime parts from its configuration: engine, decoding, actors, template, strategy, scorer.

The configuration (``demo_search.config``) only describes; this module is the one place that turns that
description into the objects the search, the tuning and the actors run with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from demo_search.config import SearchConfig, StrategyConfig
from demo_search.errors import ConfigError
from demo_search.inputs import load_model_config, model_source
from demo_search.scoring.base import Scorer
from demo_search.scoring.loglik import LoglikScorer
from demo_search.scoring.match import MatchScorer
from demo_search.search.strategies import BeamSearch, OneShotRanking, RandomBaseline, Strategy
from demo_search.templates import ChatTemplate, PromptTemplate, UrialTemplate
from workers.decoding import DecodingParams
from workers.placement import ActorOptions
from workers.spec import EngineSpec

DEFAULT_MAX_CONTEXT = 32768
"""The default context window's cap (see the README, ``model.max_context``): a 7-8B model's key/value cache for
one 32k-token request (4 GiB for Llama-3.1-8B in bfloat16) plus its weights fits vLLM's budget on a 24 GB GPU,
where Llama-3.1's own 131,072 positions (16 GiB of cache) make vLLM refuse to start."""

VLLM_GPU_MEMORY_UTILIZATION = 0.9
"""vLLM's own default share of a GPU's memory; an actor with a fraction of a GPU gets that fraction of it."""

_POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length")


def engine_spec(config: SearchConfig) -> EngineSpec:
    """The engine for ``model``: on ``cuda`` when workers get GPUs, else on ``cpu``, with the driver's context
    window (``context_window``, so reads the model's config).

    ``tensor_parallel_size > 1`` (vLLM only) is passed to vLLM through ``options``. A vLLM actor with a fraction
    of a GPU (``workers.gpus_per_worker`` below 1) gets that fraction of vLLM's default ``gpu_memory_utilization``
    unless the options set a memory budget, so that engines sharing a GPU fit in it together.
    """
    options = dict(config.model.options)
    if config.model.tensor_parallel_size > 1:
        options["tensor_parallel_size"] = config.model.tensor_parallel_size
    gpus = config.workers.gpus_per_worker
    memory_options = {"gpu_memory_utilization", "kv_cache_memory_bytes"} & set(options)
    if config.model.engine == "vllm" and 0 < gpus < 1 and not memory_options:
        options["gpu_memory_utilization"] = round(VLLM_GPU_MEMORY_UTILIZATION * gpus, 4)
    source = model_source(config)
    return EngineSpec(
        kind=config.model.engine,
        model=source.location,
        revision=source.revision,
        dtype=config.model.dtype,
        device="cuda" if gpus > 0 else "cpu",
        max_context=context_window(config),
        batch_size=config.model.batch_size,
        options=options,
    )


def actor_options(config: SearchConfig) -> ActorOptions:
    """What each engine actor asks of the cluster (``workers`` and ``model.tensor_parallel_size``)."""
    workers = config.workers
    return ActorOptions(
        num_cpus=workers.cpus_per_worker,
        num_gpus=workers.gpus_per_worker,
        resources=workers.resources,
        max_restarts=workers.max_restarts,
        tensor_parallel_size=config.model.tensor_parallel_size,
    )


def decoding_params(config: SearchConfig) -> DecodingParams:
    """The ``decoding`` section as the engines' parameters, seeded with ``decoding.seed``, else the search's
    ``seed``: sampled answers are reproducible, and the search and its tuning draw the same random streams."""
    decoding = config.decoding
    seed = decoding.seed if decoding.seed is not None else config.seed
    return DecodingParams(**{**decoding.model_dump(), "seed": seed})


def build_template(config: SearchConfig, tokenizer: Any) -> PromptTemplate:
    if config.template.kind == "chat":
        return ChatTemplate(tokenizer)
    return UrialTemplate()


def build_strategy(strategy: StrategyConfig, seed: int) -> Strategy:
    """The strategy of a ``strategy`` section (``seed``: the search's, for the random baseline)."""
    if strategy.kind == "random":
        return RandomBaseline(seed)
    if strategy.kind == "one_shot":
        return OneShotRanking()
    return BeamSearch(strategy.beam_width if strategy.kind == "beam" else 1, min_delta=strategy.min_delta)


def build_scorer(config: SearchConfig) -> Scorer:
    scorer = config.scorer
    if scorer.kind == "loglik":
        return LoglikScorer()
    if scorer.kind == "match":
        return MatchScorer(scorer.match.mode, scorer.match.pattern)
    if scorer.kind == "judge":
        from demo_search.scoring.judge import JudgeScorer

        return JudgeScorer.from_config(scorer.judge)
    from demo_search.scoring.reward import RewardScorer

    return RewardScorer.from_config(scorer.reward)


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


def context_window(config: SearchConfig) -> int:
    """The context window in tokens that the driver plans prompts for and the engines are started with."""
    return resolve_context_window(config).tokens
