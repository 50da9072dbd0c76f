"""Build a search's runtime parts from its configuration: engine, decoding, actors, template, strategy, scorer.

The configuration (``demo_search.config``) only describes; this module is the one place that turns that
description into the objects the search, the tuning and the actors run with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from demo_search.config import SearchConfig, StrategyConfig
from demo_search.config.paths import model_directory
from demo_search.errors import ConfigError
from demo_search.scoring.base import Scorer
from demo_search.scoring.loglik import LoglikScorer
from demo_search.scoring.match import MatchScorer
from demo_search.search.strategies import BeamSearch, OneShotRanking, RandomBaseline, Strategy
from demo_search.templates import ChatTemplate, PromptTemplate, UrialTemplate
from workers.decoding import DecodingParams
from workers.placement import ActorOptions
from workers.spec import EngineSpec

DEFAULT_CONTEXT = 4096


def engine_spec(config: SearchConfig) -> EngineSpec:
    """The engine for ``model``: on ``cuda`` when workers get GPUs, else on ``cpu``.

    ``tensor_parallel_size > 1`` (vLLM only) is passed to vLLM through ``options``.
    """
    options = dict(config.model.options)
    if config.model.tensor_parallel_size > 1:
        options["tensor_parallel_size"] = config.model.tensor_parallel_size
    return EngineSpec(
        kind=config.model.engine,
        model=model_directory(config.model.path),
        dtype=config.model.dtype,
        device="cuda" if config.workers.gpus_per_worker > 0 else "cpu",
        max_context=config.model.max_context,
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
        return ChatTemplate(tokenizer, chat_template=config.template.chat_template)
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


def context_window(config: SearchConfig) -> int:
    """``model.max_context``, else the model's ``max_position_embeddings`` from its local ``config.json``."""
    if config.model.max_context is not None:
        return config.model.max_context
    config_file = Path(model_directory(config.model.path)) / "config.json"
    try:
        model_config = json.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DEFAULT_CONTEXT
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"cannot read the model's config {config_file}", [str(error)]) from None
    return int(model_config.get("max_position_embeddings", DEFAULT_CONTEXT))
