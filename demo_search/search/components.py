"""Build a search's parts from its configuration: template, scorer, strategy and context window."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from demo_search.config import SearchConfig
from demo_search.config.paths import model_directory
from demo_search.errors import ConfigError
from demo_search.scoring.base import Scorer
from demo_search.scoring.loglik import LoglikScorer
from demo_search.scoring.match import MatchScorer
from demo_search.search.strategies import BeamSearch, OneShotRanking, RandomBaseline, Strategy
from demo_search.templates import ChatTemplate, PromptTemplate, UrialTemplate

DEFAULT_CONTEXT = 4096


def build_template(config: SearchConfig, tokenizer: Any) -> PromptTemplate:
    if config.template.kind == "chat":
        return ChatTemplate(tokenizer)
    return UrialTemplate()


def build_strategy(config: SearchConfig) -> Strategy:
    kind = config.strategy.kind
    if kind == "random":
        return RandomBaseline(config.seed)
    if kind == "one_shot":
        return OneShotRanking()
    return BeamSearch(config.strategy.beam_width if kind == "beam" else 1)


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
