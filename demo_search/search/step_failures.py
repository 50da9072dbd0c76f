"""What a step does when a candidate's unit failed for good (every attempt the dispatcher allows failed).

The rule, in one place (``strategy.on_failed_candidate``):

* ``fail`` (the default): the step chooses nothing, and neither does the strategy's early stop. The driver records every candidate's outcome (the failed
  ones as ``failed``, with the unit's last error), records no step, and raises ``StepFailedError`` naming each
  failed candidate, its attempts and its last error; the search ends ``failed``. Nothing else is lost: the
  evaluations of the candidates that succeeded are stored, and ``demo-search resume`` sends only the units not
  stored, i.e. those of the failed candidates, so a resume after the cause is fixed reaches the trajectory an
  undisturbed run reaches.
* ``skip``: the step chooses among the candidates that were scored (or ends the search early, as the strategy
  says, judged on them), and says so in the trajectory: each failed candidate's stored reason ends with
  ``SKIPPED_NOTE``. A recorded step is never re-evaluated, so a resume keeps that choice.

A candidate with no failed unit is never affected, whatever its evaluations hold (an evaluation the scorer could
not score, e.g. an unparsable judgement, is stored with its error and excluded from the mean; that is the scorer's
rule, not this one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from demo_search.errors import DemoSearchError

FailedCandidatePolicy = Literal["fail", "skip"]
POLICIES: tuple[FailedCandidatePolicy, ...] = ("fail", "skip")
SKIPPED_NOTE = "skipped: strategy.on_failed_candidate is skip, so the step went on without it"


@dataclass(frozen=True)
class UnitFailure:
    """The last error of a candidate's unit that failed for good, and how many attempts it had."""

    error: str
    attempts: int

    def reason(self, policy: FailedCandidatePolicy) -> str:
        """The reason stored with the failed candidate."""
        text = f"engine failure after {self.attempts} attempt(s): {self.error}"
        return f"{text}; {SKIPPED_NOTE}" if policy == "skip" else text


@dataclass(frozen=True)
class FailedCandidate:
    """A candidate set of a step whose unit failed for good; ``added_item_id`` is ``None`` for the base set."""

    set_key: str
    added_item_id: str | None
    failure: UnitFailure

    @property
    def label(self) -> str:
        return f"candidate {self.added_item_id}" if self.added_item_id else f"set {self.set_key[:16]} (base set)"


class StepFailedError(DemoSearchError):
    """A step had a candidate whose unit failed for good, and ``strategy.on_failed_candidate`` is ``fail``."""


def step_failed_error(name: str, step: int, failed: Sequence[FailedCandidate]) -> StepFailedError:
    """The error that ends search ``name`` at ``step``: each failed candidate with its attempts and last error, then
    how to go on."""
    problems = [
        f"{f.label}: failed after {f.failure.attempts} attempt(s); last error: {f.failure.error}" for f in failed
    ]
    problems += [
        "the evaluations of the other candidates are stored; once the cause is fixed, "
        f"`demo-search resume {name}` runs only the failed candidates' units",
        "to let a step choose among the candidates that were scored instead, `demo-search run` its configuration "
        "again with `--set strategy.on_failed_candidate=skip` (the trajectory names the candidates it skipped)",
    ]
    return StepFailedError(
        f"search {name!r}: step {step} failed: {len(failed)} candidate set(s) failed on every attempt, "
        "so the step chose nothing",
        problems,
    )


__all__ = [
    "POLICIES",
    "SKIPPED_NOTE",
    "FailedCandidate",
    "FailedCandidatePolicy",
    "StepFailedError",
    "UnitFailure",
    "step_failed_error",
]
