"""The shape of one JSON record in each supported format, validated by pydantic.

Validation is strict: strings must be JSON strings (a number is not silently turned into text) and text fields
must not be empty or blank. Unknown keys are ignored, since real datasets carry extra columns (ids, sources,
scores). Fields that hold an answer are optional here: a held-out prompt may lack a reference, and the pool
loader itself insists on an answer (see :mod:`demo_search.data.formats`). pydantic's errors are translated into
:class:`FieldIssue` lines that name the field path and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from demo_search.data.problems import Severity


@dataclass(frozen=True)
class FieldIssue:
    """A problem with one record, before it is given a ``file:line`` location."""

    field: str | None
    message: str
    severity: Severity = Severity.ERROR


class RecordRejected(Exception):
    """A record cannot become an item; ``issues`` lists every reason found."""

    def __init__(self, issues: list[FieldIssue] | tuple[FieldIssue, ...]) -> None:
        self.issues = tuple(issues)
        super().__init__("; ".join(issue.message for issue in self.issues))


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank_string", "must not be empty")
    return value


Text = Annotated[str, AfterValidator(_not_blank)]
"""A string with at least one non-space character; kept exactly as written (no stripping)."""


class _Record(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class AlpacaRecord(_Record):
    """``{instruction, input?, output}`` (Alpaca, OpenHermes); ``input`` may be empty."""

    instruction: Text
    input: str | None = None
    output: Text | None = None


class ShareGPTMessage(_Record):
    sender: Literal["human", "user", "gpt", "assistant", "system"] = Field(alias="from")
    value: Text


class ShareGPTRecord(_Record):
    """``{conversations: [{from, value}, ...]}``."""

    conversations: list[ShareGPTMessage] = Field(min_length=1)


class ChatMessageRecord(_Record):
    """One OpenAI/Hugging Face chat message, ``{role, content}``; other keys (``name``, ...) are ignored."""

    role: Literal["system", "user", "assistant"]
    content: Text


class MessagesRecord(_Record):
    """``{messages: [{role, content}, ...], demonstration_turns?}``.

    ``demonstration_turns`` is how ``demo-search export --format messages`` keeps the demonstrations apart in one
    conversation: the number of user/assistant exchanges of each demonstration, in order.
    """

    messages: list[ChatMessageRecord] = Field(min_length=1)
    demonstration_turns: list[Annotated[int, Field(ge=1)]] | None = None


class PromptResponseRecord(_Record):
    """``{prompt, response | reference}``."""

    prompt: Text
    response: Text | None = None
    reference: Text | None = None


class MTBenchRecord(_Record):
    """An MT-Bench ``question.jsonl`` line: ``{question_id, category, turns, reference?}``.

    ``reference`` entries may be empty strings: MT-Bench writes ``""`` for a turn without a reference answer.
    """

    turns: list[Text] = Field(min_length=1)
    category: Text | None = None
    reference: list[str] | None = None


RecordT = TypeVar("RecordT", bound=_Record)


def parse_record(model: type[RecordT], record: object, format_name: str, expects: str) -> RecordT:
    """``record`` validated as ``model``; raises :class:`RecordRejected` naming every bad field."""
    if not isinstance(record, dict):
        raise RecordRejected([FieldIssue(None, f"expected a JSON object, got {json_type(record)}")])
    try:
        return model.model_validate(record)
    except ValidationError as error:
        raise RecordRejected(
            [_issue_from_error(item, format_name, expects) for item in error.errors(include_url=False)]
        ) from None


def missing_field(field: str, format_name: str, expects: str, why: str = "") -> FieldIssue:
    """The one wording of a missing field, shared by pydantic's errors and the formats' own checks."""
    reason = f"; {why}" if why else ""
    return FieldIssue(field, f"missing field '{field}' ({format_name} format expects {expects}{reason})")


def field_path(loc: tuple[str | int, ...]) -> str:
    """``('conversations', 2, 'value')`` -> ``conversations[2].value``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


_EXPECTED_TYPE = {
    "string_type": "a string",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def _issue_from_error(error: dict, format_name: str, expects: str) -> FieldIssue:
    field = field_path(tuple(error["loc"]))
    kind = error["type"]
    given = error.get("input")
    if kind == "missing":
        return missing_field(field, format_name, expects)
    if kind in _EXPECTED_TYPE:
        return FieldIssue(field, f"field '{field}' must be {_EXPECTED_TYPE[kind]}, got {json_type(given)}")
    if kind == "blank_string":
        return FieldIssue(field, f"field '{field}' must not be empty")
    if kind == "too_short":
        return FieldIssue(field, f"field '{field}' must not be empty (needs at least one entry)")
    if kind == "greater_than_equal":
        return FieldIssue(field, f"field '{field}' must be at least {error['ctx']['ge']}, got {given!r}")
    if kind == "int_type":
        return FieldIssue(field, f"field '{field}' must be an integer, got {json_type(given)}")
    if kind == "literal_error":
        return FieldIssue(field, f"field '{field}' must be one of {error['ctx']['expected']}, got {given!r}")
    return FieldIssue(field, f"field '{field}': {error['msg']}")
