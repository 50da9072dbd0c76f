"""The export document as one typed model: what ``demo-search export`` writes, what ``tune --from-export`` reads,
and where the shipped JSON Schema (``schema.json``, see :mod:`demo_search.exports.schema`) is generated from.

Every object forbids unknown keys and every value is checked strictly (a number is not a string, ``true`` is not
``1``), as the JSON Schema says. Fields with a default are optional in a document that is read; the exporter
writes them all (``prompt.query_template`` only for a URIAL template, ``prompt.chat_template`` only when the search
was given one). A URIAL search's ``prompt`` holds the rendered ``text``; a chat-template search's holds the chat
``messages`` it searched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
)
from pydantic.json_schema import SkipJsonSchema

from demo_search.errors import DemoSearchError
from demo_search.types import Demonstration, Turn

FORMAT = "demo-search.export"
FORMAT_VERSION = 1

NonNegativeInt = Annotated[int, Field(ge=0)]


class ExportError(DemoSearchError):
    """A search cannot be exported, or an export document is invalid."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Spent(_Part):
    """What the search spent over all its runs: stored evaluations, prefill tokens computed, and the judge's
    reported tokens with their price at ``scorer.judge.price`` (``null`` without one)."""

    evaluations: NonNegativeInt
    computed_tokens: NonNegativeInt
    judge_prompt_tokens: NonNegativeInt = 0
    judge_completion_tokens: NonNegativeInt = 0
    judge_usd: float | None = None


class SearchSection(_Part):
    """Which search this is, how it searched, why it stopped and what it spent."""

    name: str = Field(min_length=1)
    status: str
    strategy: dict[str, Any]
    scorer: dict[str, Any]
    stop_reason: str | None = None
    spent: Spent | None = None


class ModelSection(_Part):
    """The model the demonstrations were searched for."""

    path: str
    engine: Literal["transformers", "vllm"]
    dtype: str
    max_context: Annotated[int, Field(ge=1)] | None = None


class TemplateSection(_Part):
    """How the prompt is laid out."""

    kind: Literal["urial", "chat"]
    position: Literal["before_fixed", "after_fixed"]
    rules: str
    stop: list[str]


class TurnPayload(_Part):
    query: str
    answer: str


class ExportDemonstration(_Part):
    """One demonstration of the prompt: searched (role selected, with the step that added it) or fixed."""

    id: str = Field(min_length=1)
    role: Literal["selected", "fixed"]
    step: Annotated[int, Field(ge=1)] | None = None
    source: str = ""
    turns: list[TurnPayload] = Field(min_length=1)

    def to_demonstration(self) -> Demonstration:
        return Demonstration(id=self.id, turns=tuple(Turn(t.query, t.answer) for t in self.turns), source=self.source)


class DecodingSettings(_Part):
    """Decoding parameters (those of workers.decoding.DecodingParams)."""

    temperature: float = Field(ge=0)
    top_p: float = Field(gt=0, le=1)
    top_k: NonNegativeInt
    repetition_penalty: float = Field(gt=0)
    max_tokens: Annotated[int, Field(ge=1)]
    stop: list[str]
    seed: int | None = None


class TunedDecoding(_Part):
    """The result of tuning the decoding parameters for this very prompt (demo-search tune)."""

    params: DecodingSettings
    score: float
    baseline_score: float | None = None
    n_trials: NonNegativeInt
    importances: dict[str, float] = Field(default_factory=dict)


class DecodingSection(_Part):
    """The decoding parameters the search ran with, and the tuned ones when the prompt was tuned."""

    searched: DecodingSettings
    tuned: TunedDecoding | None = None


class _AbsentWhenNone(_Part):
    """A part whose optional fields (``_ABSENT_WHEN_NONE``) are a value or no key at all: never ``null``."""

    _ABSENT_WHEN_NONE: ClassVar[tuple[str, ...]] = ()

    @field_validator("*", mode="before")
    @classmethod
    def _given_as_text(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls._ABSENT_WHEN_NONE:  # the schema: a string, or no key at all
            raise ValueError("must not be null; leave the key out when there is none")
        return value

    @model_serializer(mode="wrap")
    def _without_missing_text(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for name in self._ABSENT_WHEN_NONE:
            if getattr(self, name) is None:
                data.pop(name, None)
        return data


class TestScore(_Part):
    """The chosen set's score on the test prompts (``data.test``), which selection never saw."""

    score: float | None
    stderr: float | None
    n: NonNegativeInt = 0


class RacingRow(_Part):
    """How a step that raced its candidates (``strategy.racing``) compares with an exhaustive step."""

    eliminated: NonNegativeInt = Field(description="Candidate sets that left the race early.")
    evaluations: NonNegativeInt = Field(description="(Set, prompt) evaluations the step's candidates have stored.")
    exhaustive_evaluations: NonNegativeInt = Field(description="What scoring every set on every prompt takes.")
    saved_evaluations: NonNegativeInt = Field(description="exhaustive_evaluations - evaluations.")


class TrajectoryRow(_AbsentWhenNone):
    """One step as demo-search status shows it (step 0 is the base set, with no chosen demonstration); ``test`` only
    when the search has a test split and the step's set was scored on it, ``racing`` only for a step that raced."""

    _ABSENT_WHEN_NONE = ("test", "racing")

    step: NonNegativeInt
    chosen: str | None
    score: float | None
    stderr: float | None
    n: NonNegativeInt = 0
    runner_up: str | None = None
    runner_up_score: float | None = None
    candidates: NonNegativeInt = 0
    skipped: NonNegativeInt = 0
    test: TestScore | SkipJsonSchema[None] = None
    racing: RacingRow | SkipJsonSchema[None] = None


class PromptSection(_AbsentWhenNone):
    """The rendered URIAL prompt, and how a new query is appended to it (a URIAL template's search)."""

    _ABSENT_WHEN_NONE = ("query_template",)

    text: str = Field(description="The rendered prompt (rules + demonstrations), ready to prepend to a query.")
    query_template: str | SkipJsonSchema[None] = Field(
        None, description="How a new query is appended; {query} is replaced."
    )


class ChatMessage(_Part):
    """One message of a chat conversation."""

    role: Literal["system", "user", "assistant"]
    content: str


class ChatPromptSection(_AbsentWhenNone):
    """The chat messages a chat-template search rendered with the model's chat template: the rules as the system
    message (none when the rules are empty), then a user and an assistant message per demonstration turn, in
    prompt order. A new query is appended as a user message and rendered with the generation prompt."""

    _ABSENT_WHEN_NONE = ("chat_template",)

    messages: list[ChatMessage]
    chat_template: str | SkipJsonSchema[None] = Field(
        None, description="The Jinja chat template the search was given (template.chat_template); absent: the "
        "tokenizer's own."
    )


def _prompt_kind(value: Any) -> str:
    if isinstance(value, ChatPromptSection) or (isinstance(value, Mapping) and "messages" in value):
        return "chat"
    return "urial"


Prompt = Annotated[
    Annotated[PromptSection, Tag("urial")] | Annotated[ChatPromptSection, Tag("chat")], Discriminator(_prompt_kind)
]
"""A URIAL prompt (``text``) or chat messages (``messages``), told apart by which key the object holds."""


class Provenance(_Part):
    """Which demo-search made the search and the export, from which configuration, and when (UTC, ISO 8601)."""

    demo_search_version: str
    config_fingerprint: str
    engine: str = ""
    created_at: str
    finished_at: str | None = None
    exported_at: str


class ExportDocument(_Part):
    """The best demonstration set of a search, ready to use as an in-context alignment prompt."""

    model_config = ConfigDict(title="demo-search export")

    format: Literal["demo-search.export"]
    format_version: Literal[1]
    search: SearchSection
    model: ModelSection
    template: TemplateSection
    demonstrations: list[ExportDemonstration] = Field(description="Every demonstration of the prompt, in prompt order.")
    decoding: DecodingSection
    trajectory: list[TrajectoryRow]
    prompt: Prompt
    provenance: Provenance

    def to_payload(self) -> dict[str, Any]:
        """The document as JSON-ready data."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        """The document as the JSON text ``demo-search export`` writes (indented, UTF-8 as is, final newline)."""
        return json.dumps(self.to_payload(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ExportDocument:
        """The document of parsed JSON; ``ExportError`` lists every violation by its JSON path."""
        try:
            return cls.model_validate(dict(payload))
        except ValidationError as error:
            raise ExportError(
                "the export document does not match its schema",
                [f"{_json_path(e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)],
            ) from None

    def demonstrations_in_prompt_order(self) -> tuple[Demonstration, ...]:
        return tuple(demo.to_demonstration() for demo in self.demonstrations)


def _json_path(loc: tuple[int | str, ...]) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "DecodingSection",
    "ChatMessage",
    "ChatPromptSection",
    "DecodingSettings",
    "ExportDemonstration",
    "ExportDocument",
    "ExportError",
    "ModelSection",
    "PromptSection",
    "Provenance",
    "SearchSection",
    "TemplateSection",
    "RacingRow",
    "TestScore",
    "TrajectoryRow",
    "TunedDecoding",
    "TurnPayload",
]
