"""MT-Bench ``question.jsonl`` records: one or every turn of a question."""

from __future__ import annotations

from demo_search.data.formats.base import Mapped, RecordFormat, TurnMode
from demo_search.data.records import FieldIssue, MTBenchRecord, RecordRejected, parse_record
from demo_search.types import Demonstration, HeldOutPrompt, Turn


class MTBenchFormat(RecordFormat):
    name = "mtbench"
    expects = "turns, category?, reference?"
    signature = "turns"

    @staticmethod
    def _used(parsed: MTBenchRecord, turns: TurnMode) -> list[str]:
        return parsed.turns[:1] if turns == "first" else list(parsed.turns)

    @staticmethod
    def _references(parsed: MTBenchRecord, count: int) -> list[str | None]:
        """The references of the first ``count`` turns; ``None`` when absent or empty (MT-Bench's "none")."""
        given = parsed.reference or []
        return [given[i] if i < len(given) and given[i].strip() else None for i in range(count)]

    def demonstration(self, record: object, source: str, turns: TurnMode) -> Mapped[Demonstration]:
        parsed = parse_record(MTBenchRecord, record, self.name, self.expects)
        if parsed.reference is None:
            raise RecordRejected([self._missing("reference", "a pool item needs the reference answer")])
        used = self._used(parsed, turns)
        references = self._references(parsed, len(used))
        answers = [answer for answer in references if answer is not None]
        if len(answers) < len(used):
            raise RecordRejected(
                [
                    FieldIssue(f"reference[{index}]", f"field 'reference[{index}]' is missing or empty; a pool item "
                                                      f"needs the reference answer of every turn it uses "
                                                      f"(turns={turns!r})")
                    for index, answer in enumerate(references)
                    if answer is None
                ]
            )
        demo = Demonstration.from_turns([Turn(query, answer) for query, answer in zip(used, answers)], source=source)
        return Mapped((demo,))

    def heldout(self, record: object, source: str, turns: TurnMode) -> Mapped[HeldOutPrompt]:
        parsed = parse_record(MTBenchRecord, record, self.name, self.expects)
        used = self._used(parsed, turns)
        references = self._references(parsed, len(used))
        prompts: list[HeldOutPrompt] = []
        for index, (query, reference) in enumerate(zip(used, references)):
            prompts.append(
                HeldOutPrompt.create(
                    query,
                    reference=reference,
                    category=parsed.category,
                    source=source if index == 0 else f"{source} (turn {index + 1})",
                    follows=prompts[-1].id if prompts else None,
                )
            )
        return Mapped(tuple(prompts))
