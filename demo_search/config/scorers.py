"""The ``scorer`` section of a search configuration: which scorer turns answers into scores, and its settings."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from demo_search.config.base import (
    ModelLocation,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Section,
    cross_field,
    section,
)


def _compilable_pattern(value: str) -> str:
    try:
        re.compile(value.replace("{reference}", "x"))
    except re.error as error:
        raise PydanticCustomError(
            "invalid_regex", "is not a valid regular expression: {reason}", {"reason": str(error)}
        ) from None
    return value


class MatchConfig(Section):
    """``match`` scorer: generated answers against the references."""

    mode: Literal["exact", "normalized", "regex", "contains"] = "exact"
    pattern: Annotated[str, AfterValidator(_compilable_pattern)] | None = None

    @model_validator(mode="after")
    def _pattern_needs_regex(self) -> MatchConfig:
        if self.pattern is not None and self.mode != "regex":
            cross_field([
                f"scorer.match.pattern is only used with scorer.match.mode regex, but the mode is {self.mode!r}"
            ])
        return self


class JudgePrice(Section):
    """What the judge's endpoint charges, in US dollars per million tokens."""

    input_per_mtok: NonNegativeFloat
    output_per_mtok: NonNegativeFloat

    def usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The price of ``prompt_tokens`` read and ``completion_tokens`` written by the judge."""
        return (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / 1_000_000


class JudgeConfig(Section):
    """``judge`` scorer: MT-Bench-style 1-10 ratings from a local model or an OpenAI-compatible endpoint."""

    backend: Literal["local", "http"] = "http"
    model: ModelLocation | None = Field(None, description="the judge model, for backend local")
    base_url: str | None = Field(None, description="the endpoint, e.g. https://api.openai.com/v1, for backend http")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")
    model_name: str | None = Field(None, description="the model name sent to the endpoint, for backend http")
    timeout_s: PositiveFloat = 60.0
    max_retries: NonNegativeInt = 3
    concurrency: PositiveInt = 8
    max_tokens: PositiveInt = Field(2048, description="the most tokens of one judgement (FastChat: 2048)")
    price: JudgePrice | None = Field(
        None, description="USD per million tokens, as {input_per_mtok, output_per_mtok}: projected and spent costs"
    )


class RewardConfig(Section):
    """``reward`` scorer: a sequence-classification reward model."""

    model: ModelLocation | None = None


CUSTOM_SCORER_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"


class CustomScorerConfig(Section):
    """``custom`` scorer: a user's Python function (``demo_search.scoring.custom``), found by ``name`` among the
    functions given to ``demo_search.run`` or registered under the entry point group ``demo_search.scorers``.

    ``version`` is the function's own, recorded when the search runs (a value written here is replaced by the
    scorer's): name and version are in the fingerprint, so a resume with another version is refused."""

    name: Annotated[str, Field(pattern=CUSTOM_SCORER_NAME_PATTERN)] | None = Field(
        None, description="the scorer function's name (its entry point name)"
    )
    version: Annotated[str, Field(min_length=1)] | None = Field(
        None, description="the scorer function's version, recorded at run time (null: unversioned)"
    )


class ScorerConfig(Section):
    """How a candidate set's answers on the held-out prompts become a score (higher is better)."""

    kind: Literal["loglik", "match", "judge", "reward", "custom"] = "loglik"
    match: MatchConfig = section()
    judge: JudgeConfig = section()
    reward: RewardConfig = section()
    custom: CustomScorerConfig = section()

    @property
    def needs_references(self) -> bool:
        """Whether every held-out prompt must carry a reference answer (``loglik`` and ``match``; a custom
        function is given ``None`` where a prompt has none)."""
        return self.kind in ("loglik", "match")

    @property
    def generates(self) -> bool:
        """Whether the scorer reads generated answers (so decoding parameters matter), not log-likelihoods."""
        return self.kind != "loglik"

    @model_validator(mode="after")
    def _active_scorer_complete(self) -> ScorerConfig:
        problems = []
        if self.kind == "judge" and self.judge.backend == "http":
            problems += [f"scorer.judge.{key} is required when scorer.judge.backend is http"
                         for key in ("base_url", "model_name") if getattr(self.judge, key) is None]
        if self.kind == "judge" and self.judge.backend == "local" and self.judge.model is None:
            problems.append("scorer.judge.model is required when scorer.judge.backend is local")
        if self.kind == "reward" and self.reward.model is None:
            problems.append("scorer.reward.model is required when scorer.kind is reward")
        if self.kind == "custom" and self.custom.name is None:
            problems.append("scorer.custom.name is required when scorer.kind is custom (the scorer function's name)")
        cross_field(problems)
        return self
