"""Build a search's runtime parts from its configuration: engine, decoding, actors, template, strategy, scorer.

The configuration (``demo_search.config``) only describes; this module is the one place that turns that
description into the objects the search, the tuning and the actors run with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from demo_search.config import SearchConfig, StrategyConfig
from demo_search.inputs import model_source
from demo_search.model_limits import resolve_context_window
from demo_search.scoring.base import Scorer
from demo_search.scoring.loglik import LoglikScorer
from demo_search.scoring.match import MatchScorer
from demo_search.search.racing import RaceSettings
from demo_search.search.problem import SearchProblem
from demo_search.search.strategies import BeamSearch, OneShotRanking, RandomBaseline, Strategy
from demo_search.templates import ChatTemplate, PromptTemplate, UrialTemplate
from workers.decoding import DecodingParams
from workers.placement import ActorOptions
from workers.spec import EngineSpec

if TYPE_CHECKING:
    from demo_search.inputs import SearchInputs
    from demo_search.scoring.custom import ScorerFunction

VLLM_GPU_MEMORY_UTILIZATION = 0.9
"""vLLM's own default share of a GPU's memory; an actor with a fraction of a GPU gets that fraction of it."""



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
        return ChatTemplate(tokenizer, chat_template=config.template.chat_template)
    return UrialTemplate()


def build_problem(config: SearchConfig, inputs: SearchInputs, max_context: int) -> SearchProblem:
    """What the search works on: the template, the loaded data and the context window it plans prompts for."""
    return SearchProblem(
        template=build_template(config, inputs.tokenizer), tokenizer=inputs.tokenizer, rules=inputs.rules,
        fixed=inputs.fixed, pool=inputs.candidates, prompts=inputs.heldout.items,
        position=config.template.position, max_context=max_context,
    )


def build_strategy(strategy: StrategyConfig, seed: int) -> Strategy:
    """The strategy of a ``strategy`` section (``seed``: the search's, for the random baseline)."""
    if strategy.kind == "random":
        return RandomBaseline(seed)
    if strategy.kind == "one_shot":
        return OneShotRanking()
    return BeamSearch(strategy.survivors, min_delta=strategy.min_delta)


def race_settings(config: SearchConfig, scorer: Scorer) -> RaceSettings | None:
    """The race of each step (``strategy.racing``), or ``None`` when racing is off. The config allows racing only
    with scorers whose scores are bounded; ``scorer.score_range`` gives the bounds."""
    racing = config.strategy.racing
    if not racing.enabled:
        return None
    if scorer.score_range is None:
        raise ValueError(f"racing needs a scorer with a bounded score range; {type(scorer).__name__} has none")
    return RaceSettings(
        delta=racing.delta,
        first_prompts=racing.first_prompts,
        round_prompts=racing.round_prompts,
        score_range=scorer.score_range,
        survivors=config.strategy.survivors,
        seed=config.seed,
    )


def build_scorer(config: SearchConfig, function: ScorerFunction | None = None) -> Scorer:
    """The scorer ``scorer.kind`` selects. A ``custom`` one runs ``function`` (given by the caller) or the function
    registered under ``scorer.custom.name``, which must be the name and version the configuration records."""
    scorer = config.scorer
    if scorer.kind == "custom":
        from demo_search.scoring.custom import CustomScorer, check_recorded_identity, find_scorer_function

        found = find_scorer_function(scorer.custom.name, function)
        check_recorded_identity(config, found)
        return CustomScorer(found)
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
    """The context window in tokens that the driver plans prompts for and the engines are started with
    (``demo_search.model_limits.resolve_context_window``)."""
    return resolve_context_window(config).tokens
