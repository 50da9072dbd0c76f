"""What a search may spend (``strategy.budget``) and what it has spent so far."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from db import Evaluation, SearchSummary
from db.records import JUDGE_COMPLETION_TOKENS, JUDGE_PROMPT_TOKENS
from demo_search.config import JudgePrice


@dataclass
class Spending:
    """A search's computed evaluations, computed tokens and judge tokens: its earlier runs' (``stored``) plus this
    run's. Evaluations reused from the ledger cost nothing and are not counted."""

    evaluations: int = 0
    computed_tokens: int = 0
    judge_prompt_tokens: int = 0
    judge_completion_tokens: int = 0

    @classmethod
    def stored(cls, summary: SearchSummary | None) -> Spending:
        """What the store holds for a search (nothing for a new one)."""
        if summary is None:
            return cls()
        return cls(summary.evaluations - summary.reused_evaluations, summary.computed_tokens,
                   summary.judge_prompt_tokens, summary.judge_completion_tokens)

    def add(self, rows: Sequence[Evaluation]) -> None:
        """Count evaluations just computed and stored."""
        for row in rows:
            if row.reused:
                continue
            self.evaluations += 1
            detail = row.detail or {}
            self.computed_tokens += row.computed_tokens
            self.judge_prompt_tokens += detail.get(JUDGE_PROMPT_TOKENS) or 0
            self.judge_completion_tokens += detail.get(JUDGE_COMPLETION_TOKENS) or 0


@dataclass(frozen=True)
class Budget:
    """Limits over the whole search (evaluations, computed tokens and dollars include earlier runs; wall time is
    this run's); ``None`` is no limit. ``judge_price`` turns the judge's tokens into dollars for ``max_usd``."""

    max_evaluations: int | None = None
    max_tokens: int | None = None
    max_wall_time_s: float | None = None
    max_usd: float | None = None
    judge_price: JudgePrice | None = None

    def exhausted(self, spent: Spending, elapsed_s: float) -> bool:
        """Whether ``spent`` (and ``elapsed_s`` of this run) reaches any limit."""
        if self.max_evaluations is not None and spent.evaluations >= self.max_evaluations:
            return True
        if self.max_tokens is not None and spent.computed_tokens >= self.max_tokens:
            return True
        if self.max_usd is not None and self.judge_price is not None:
            if self.judge_price.usd(spent.judge_prompt_tokens, spent.judge_completion_tokens) >= self.max_usd:
                return True
        return self.max_wall_time_s is not None and elapsed_s >= self.max_wall_time_s


def judge_usd(config: Mapping[str, Any], prompt_tokens: int, completion_tokens: int) -> float | None:
    """What a stored search's judge tokens cost at the ``scorer.judge.price`` its configuration records (``None``
    when it records none)."""
    price = config.get("scorer", {}).get("judge", {}).get("price")
    return None if price is None else JudgePrice.model_validate(price).usd(prompt_tokens, completion_tokens)


__all__ = ["Budget", "Spending", "judge_usd"]
