"""Conversation record formats: ShareGPT ``{conversations: [{from, value}]}`` and the OpenAI/Hugging Face chat
format ``{messages: [{role, content}]}``.

Both follow one set of rules (:class:`ConversationFormat`): turns alternate user, assistant, starting with the
user; a *leading* system message is ignored with a warning (a demonstration or held-out prompt has no place for
a system prompt, and rejecting it would refuse most real dumps), a system message anywhere else is an error. A
pool item keeps every exchange as a turn and must end with an assistant answer. A held-out prompt is the *last*
user message, with the exchanges before it as history; a final assistant message, if present, is its reference.

A chat record may carry ``demonstration_turns`` (written by ``demo-search export --format messages``): the
number of exchanges of each demonstration in the conversation, which then becomes that many pool items (or one
held-out prompt per demonstration, its last exchange the query and reference), so an export loads back as the
demonstrations it was made of.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

from demo_search.data.formats.base import Mapped, RecordFormat, TurnMode
from demo_search.data.problems import Severity
from demo_search.data.records import FieldIssue, MessagesRecord, RecordRejected, ShareGPTRecord, parse_record
from demo_search.types import Demonstration, HeldOutPrompt, Turn

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Said:
    """One message of a conversation: its role normalised (``system``, ``user`` or ``assistant``), its text, and
    the role as the record wrote it (for messages)."""

    role: Role
    text: str
    written: str


@dataclass(frozen=True)
class _Conversation:
    """A validated conversation: answered ``turns`` grouped into ``parts`` (one per demonstration), then possibly
    a final unanswered user message."""

    parts: tuple[tuple[Turn, ...], ...]
    open_query: str | None
    notes: tuple[FieldIssue, ...]

    @property
    def turns(self) -> tuple[Turn, ...]:
        return tuple(turn for part in self.parts for turn in part)


class ConversationFormat(RecordFormat):
    """A format whose record is one conversation; subclasses say how its messages are spelled."""

    field: ClassVar[str]
    """The key holding the list of messages."""
    role_key: ClassVar[str]
    """The key of a message that holds its role."""
    role_names: ClassVar[dict[Role, str]]
    """How each role may be written, for messages (``"human or user"``)."""
    answer_names: ClassVar[str]
    """How an assistant message is named in "must end with ..." (``"a gpt/assistant"``)."""

    @abstractmethod
    def _messages(self, record: object) -> tuple[list[Said], list[int] | None]:
        """The record's messages with normalised roles, and its ``demonstration_turns`` (``None``: one part)."""

    def _conversation(self, record: object) -> _Conversation:
        messages, grouping = self._messages(record)
        notes: tuple[FieldIssue, ...] = ()
        start = 0
        if messages[0].role == "system":
            start = 1
            notes = (
                FieldIssue(
                    f"{self.field}[0]",
                    "leading system message ignored (demonstrations and held-out prompts carry no system prompt)",
                    Severity.WARNING,
                ),
            )
        issues = [issue for index in range(start, len(messages)) if (issue := self._role_issue(messages, index, start))]
        if not issues and start == len(messages):
            issues.append(FieldIssue(self.field, f"field '{self.field}' has no user message after the system one"))
        if issues:
            raise RecordRejected(issues)
        users, assistants = messages[start::2], messages[start + 1 :: 2]
        turns = tuple(Turn(user.text, assistant.text) for user, assistant in zip(users, assistants))
        open_query = users[-1].text if len(users) > len(assistants) else None
        return _Conversation(self._parts(turns, grouping, open_query), open_query, notes)

    def _role_issue(self, messages: list[Said], index: int, start: int) -> FieldIssue | None:
        """Why message ``index`` breaks the user, assistant, user, ... order (``None`` when it does not)."""
        role = messages[index].role
        field = f"{self.field}[{index}].{self.role_key}"
        if role == "system":
            return FieldIssue(field, f"a system message is accepted only first, got one at {field}")
        wanted: Role = "user" if (index - start) % 2 == 0 else "assistant"
        if role == wanted:
            return None
        return FieldIssue(field, f"field '{field}' must be {self.role_names[wanted]} (turns alternate user, "
                                 f"assistant), got {messages[index].written!r}")

    def _parts(
        self, turns: tuple[Turn, ...], grouping: list[int] | None, open_query: str | None
    ) -> tuple[tuple[Turn, ...], ...]:
        if grouping is None:
            return (turns,) if turns else ()
        if open_query is not None:
            raise RecordRejected([FieldIssue("demonstration_turns", f"field 'demonstration_turns' needs field "
                                                                    f"'{self.field}' to end with an assistant message")])
        if sum(grouping) != len(turns):
            raise RecordRejected([FieldIssue("demonstration_turns", f"field 'demonstration_turns' adds up to "
                                                                    f"{sum(grouping)} exchanges, but field "
                                                                    f"'{self.field}' has {len(turns)}")])
        ends = [sum(grouping[: index + 1]) for index in range(len(grouping))]
        return tuple(turns[end - count : end] for count, end in zip(grouping, ends))

    @staticmethod
    def _part_source(source: str, index: int, parts: int) -> str:
        return source if parts == 1 else f"{source} (demonstration {index + 1})"

    def demonstration(self, record: object, source: str, turns: TurnMode) -> Mapped[Demonstration]:
        conversation = self._conversation(record)
        if conversation.open_query is not None:
            raise RecordRejected(
                [FieldIssue(self.field, f"field '{self.field}' must end with {self.answer_names} message "
                                        f"(a pool item needs an answer)")]
            )
        parts = conversation.parts
        demos = tuple(
            Demonstration.from_turns(part, source=self._part_source(source, index, len(parts)))
            for index, part in enumerate(parts)
        )
        return Mapped(demos, conversation.notes)

    def heldout(self, record: object, source: str, turns: TurnMode) -> Mapped[HeldOutPrompt]:
        conversation = self._conversation(record)
        if conversation.open_query is not None:
            prompt = HeldOutPrompt.create(
                conversation.open_query, reference=None, history=conversation.turns, source=source
            )
            return Mapped((prompt,), conversation.notes)
        parts = conversation.parts
        prompts = []
        for index, part in enumerate(parts):
            *earlier, last = part
            prompts.append(
                HeldOutPrompt.create(last.query, reference=last.answer, history=tuple(earlier),
                                     source=self._part_source(source, index, len(parts)))
            )
        return Mapped(tuple(prompts), conversation.notes)


_SHAREGPT_ROLES: dict[str, Role] = {
    "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"
}


class ShareGPTFormat(ConversationFormat):
    name = "sharegpt"
    expects = "conversations: [{from, value}, ...]"
    signature = "conversations"
    field = "conversations"
    role_key = "from"
    role_names = {"user": "human or user", "assistant": "gpt or assistant", "system": "system"}
    answer_names = "a gpt/assistant"

    def _messages(self, record: object) -> tuple[list[Said], list[int] | None]:
        parsed = parse_record(ShareGPTRecord, record, self.name, self.expects)
        messages = [Said(_SHAREGPT_ROLES[message.sender], message.value, message.sender)
                    for message in parsed.conversations]
        return messages, None


class MessagesFormat(ConversationFormat):
    name = "messages"
    expects = "messages: [{role, content}, ...]"
    signature = "messages"
    field = "messages"
    role_key = "role"
    role_names = {"user": "user", "assistant": "assistant", "system": "system"}
    answer_names = "an assistant"

    def _messages(self, record: object) -> tuple[list[Said], list[int] | None]:
        parsed = parse_record(MessagesRecord, record, self.name, self.expects)
        messages = [Said(message.role, message.content, message.role) for message in parsed.messages]
        return messages, parsed.demonstration_turns
