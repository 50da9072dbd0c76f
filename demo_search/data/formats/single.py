"""Single-turn record formats: Alpaca/OpenHermes and ``{prompt, response | reference}``."""

from __future__ import annotations

from demo_search.data.formats.base import Mapped, RecordFormat, TurnMode
from demo_search.data.records import AlpacaRecord, FieldIssue, PromptResponseRecord, RecordRejected, parse_record
from demo_search.types import Demonstration, HeldOutPrompt


class AlpacaFormat(RecordFormat):
    name = "alpaca"
    expects = "instruction, input?, output"
    signature = "instruction"

    def _parse(self, record: object) -> tuple[AlpacaRecord, str]:
        parsed = parse_record(AlpacaRecord, record, self.name, self.expects)
        extra = parsed.input if parsed.input is not None and parsed.input.strip() else None
        return parsed, parsed.instruction if extra is None else f"{parsed.instruction}\n\n{extra}"

    def demonstration(self, record: object, source: str, turns: TurnMode) -> Mapped[Demonstration]:
        parsed, query = self._parse(record)
        answer = self._require_answer(record, "output", parsed.output)
        return Mapped((Demonstration.single(query, answer, source=source),))

    def heldout(self, record: object, source: str, turns: TurnMode) -> Mapped[HeldOutPrompt]:
        parsed, query = self._parse(record)
        return Mapped((HeldOutPrompt.create(query, reference=parsed.output, source=source),))


class PromptResponseFormat(RecordFormat):
    name = "prompt_response"
    expects = "prompt, response | reference"
    signature = "prompt"

    def _parse(self, record: object) -> tuple[PromptResponseRecord, str | None]:
        parsed = parse_record(PromptResponseRecord, record, self.name, self.expects)
        if parsed.response is not None and parsed.reference is not None:
            raise RecordRejected(
                [FieldIssue("reference", "give either field 'response' or field 'reference', not both")]
            )
        return parsed, parsed.response if parsed.response is not None else parsed.reference

    def demonstration(self, record: object, source: str, turns: TurnMode) -> Mapped[Demonstration]:
        parsed, answer = self._parse(record)
        field = "reference" if isinstance(record, dict) and "reference" in record else "response"
        answer = self._require_answer(record, field, answer, "a pool item needs an answer")
        return Mapped((Demonstration.single(parsed.prompt, answer, source=source),))

    def heldout(self, record: object, source: str, turns: TurnMode) -> Mapped[HeldOutPrompt]:
        parsed, reference = self._parse(record)
        return Mapped((HeldOutPrompt.create(parsed.prompt, reference=reference, source=source),))
