"""``match``: generated answers compared with the references (exact / normalized / regex / contains)."""

from __future__ import annotations

import re
import string
import unicodedata

from demo_search.scoring.base import Evaluation, Scorer

MODES = ("exact", "normalized", "regex", "contains")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """NFKC, case-folded, punctuation removed, whitespace collapsed (SQuAD-style answer normalisation)."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_PUNCT)
    return " ".join(text.split())


class MatchScorer(Scorer):
    """1.0 when the generated answer matches the prompt's reference, else 0.0.

    * ``exact``: equal after stripping surrounding whitespace;
    * ``normalized``: equal after ``normalize``;
    * ``contains``: the normalized reference occurs in the normalized answer;
    * ``regex``: ``pattern`` (or, without one, the reference itself as a pattern) matches the answer
      (``re.search``); ``{reference}`` in the pattern is replaced by the escaped reference.
    """

    engine_call = "generate"
    score_range = (0.0, 1.0)

    def __init__(self, mode: str = "exact", pattern: str | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"match mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.pattern = pattern

    @property
    def needs_references(self) -> bool:
        return self.mode != "regex" or self.pattern is None or "{reference}" in self.pattern

    def matches(self, answer: str, reference: str | None) -> bool:
        if self.mode == "regex":
            pattern = self.pattern if self.pattern is not None else reference
            if self.pattern is not None and reference is not None:
                pattern = self.pattern.replace("{reference}", re.escape(reference))
            return re.search(pattern, answer) is not None
        if self.mode == "exact":
            return answer.strip() == reference.strip()
        if self.mode == "normalized":
            return normalize(answer) == normalize(reference)
        return normalize(reference) in normalize(answer)

    def evaluate(self, items, prompts):
        evaluations = []
        for item in items:
            reference = prompts[item.leaf_id].reference
            if reference is None and self.needs_references:
                evaluations.append(Evaluation(item.leaf_id, None, output=item.text, error="prompt has no reference"))
                continue
            score = 1.0 if self.matches(item.text, reference) else 0.0
            evaluations.append(Evaluation(item.leaf_id, score, output=item.text, detail={"finish_reason": item.finish_reason}))
        return evaluations
