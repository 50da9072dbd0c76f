"""What ``demo-search evaluate`` reports, as one pydantic model (its ``--json`` form, whose JSON Schema is
:func:`report_json_schema`): per prompt its mean ± SE and per-prompt scores, and the paired differences between
every two prompts with their confidence intervals."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from demo_search.evaluation.sources import SourceKind


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptScore(_Part):
    """One evaluated prompt: its mean score ± standard error over the ``n`` prompts it scored (``n_failed`` more
    failed), and its score on each prompt of the set in file order (``null``: failed or not asked)."""

    label: str = Field(description="the argument as given: a file, or base")
    kind: SourceKind
    demonstrations: int = Field(ge=0, description="how many demonstrations the prompt holds")
    mean: float | None
    stderr: float | None
    n: int = Field(ge=0)
    n_failed: int = Field(ge=0)
    not_scored: str | None = Field(None, description="why the prompt has no score, when it has none")
    scores: list[float | None]


class PairedDifference(_Part):
    """``second`` minus ``first`` over the ``n`` prompts both scored: the mean difference, its standard error and
    its confidence interval (paired t); no interval with fewer than two pairs."""

    first: str
    second: str
    mean: float | None
    stderr: float | None
    n: int = Field(ge=0)
    ci_low: float | None
    ci_high: float | None


class EvaluationReport(_Part):
    """The outcome of ``demo-search evaluate``: every prompt scored on the same prompt set with the same scorer."""

    model_config = ConfigDict(title="demo-search evaluate")

    prompts_file: str
    prompt_ids: list[str] = Field(description="the prompts of the set, in file order (the order of every scores list)")
    scorer: str
    confidence: float = Field(gt=0, lt=1)
    results: list[PromptScore]
    differences: list[PairedDifference] = Field(description="one row per two prompts, second minus first, in "
                                                "argument order")

    def result(self, label: str) -> PromptScore:
        """The result of the prompt given as ``label``."""
        return next(r for r in self.results if r.label == label)


def report_json_schema() -> dict[str, Any]:
    """The JSON Schema every ``demo-search evaluate --json`` output validates against."""
    return EvaluationReport.model_json_schema(mode="serialization")


__all__ = ["EvaluationReport", "PairedDifference", "PromptScore", "report_json_schema"]
