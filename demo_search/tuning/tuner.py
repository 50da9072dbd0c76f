"""The tuning loop: ask a batch of trials, evaluate them at once through the dispatcher, tell the study, repeat.

The study is the loop's only memory. A run first marks the trials a dead driver left running as failed and
enqueues the first trials that have neither completed nor are waiting, then runs batches of at most
``parallel_trials`` trials (one work unit each) until the study holds exactly ``n_trials`` completed trials. A
failed trial (engine failure, every evaluation failed) is recorded as failed and does not count; another trial
takes its place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from optuna.trial import TrialState

from demo_search.search.driver import UnitDispatcher
from demo_search.search.ledger import NoLedger
from demo_search.tuning.errors import TuningError
from demo_search.tuning.objective import TrialObjective, TrialScore
from demo_search.tuning.space import SEARCH_SETTINGS, FirstTrial, ParamValue, SearchSpace
from demo_search.tuning.study import (
    FIRST_TRIAL_ATTR,
    Importances,
    best_trial,
    completed_trials,
    enqueue_first_trials,
    fail_interrupted_trials,
    param_importances,
    trial_with_label,
)
from workers.decoding import DecodingParams
from workers.units import UnitResult

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

logger = logging.getLogger(__name__)


class TuningProgress(Protocol):
    """What the tuner reports while it runs (the CLI draws a progress bar from it)."""

    def started(self, study_name: str, n_trials: int, completed: int) -> None:
        """The study ``study_name`` holds ``completed`` of the ``n_trials`` completed trials it will end with."""

    def trial_finished(self, number: int, score: TrialScore, params: Mapping[str, ParamValue]) -> None:
        """Trial ``number`` was told to the study (completed when ``score.valid``, else failed)."""


class NullTuningProgress:
    """Reports nothing."""

    def started(self, study_name: str, n_trials: int, completed: int) -> None:
        return None

    def trial_finished(self, number: int, score: TrialScore, params: Mapping[str, ParamValue]) -> None:
        return None


@dataclass(frozen=True)
class TunedTrial:
    """A completed trial: its tuned parameters, the full decoding parameters they give, and its score."""

    number: int
    params: Mapping[str, ParamValue]
    decoding: DecodingParams
    score: float
    stderr: float | None
    n_scored: int | None
    label: str | None


@dataclass(frozen=True)
class TuningOutcome:
    """Where a study stands after a run: its best trial, the search's own setting (``baseline``), the counts and
    the parameter importances. ``interrupted`` lists the trials a dead driver had left running (marked failed);
    ``computed_tokens`` and ``cached_tokens`` are the engines' prefill totals of this run's trials."""

    study_name: str
    demo_ids: tuple[str, ...]
    origin: str
    best: TunedTrial
    baseline: TunedTrial | None
    completed: int
    trials_run: int
    trials_failed: int
    interrupted: tuple[int, ...]
    importances: Importances
    computed_tokens: int = 0
    cached_tokens: int = 0


@dataclass
class _Tally:
    """What one run has done so far (mutable, private to ``DecodingTuner.run``)."""

    ran: int = 0
    failed: int = 0
    computed_tokens: int = 0
    cached_tokens: int = 0

    def add(self, result: UnitResult, score: TrialScore) -> None:
        self.ran += 1
        self.failed += 0 if score.valid else 1
        if result.ok:
            self.computed_tokens += result.result.stats.computed_tokens
            self.cached_tokens += result.result.stats.cached_tokens


class DecodingTuner:
    """Runs (or continues) one study until it holds ``n_trials`` completed trials.

    ``dispatcher`` opens the dispatcher the trials run on (a context manager); it is called only when there are
    trials left to run, so a study that is already complete costs no engine start-up.
    """

    def __init__(
        self,
        *,
        study: optuna.Study,
        space: SearchSpace,
        objective: TrialObjective,
        dispatcher: Callable[[], AbstractContextManager[UnitDispatcher]],
        n_trials: int,
        parallel_trials: int,
        first_trials: Sequence[FirstTrial],
        progress: TuningProgress | None = None,
        ledger: NoLedger = NoLedger(),
    ) -> None:
        if n_trials < 1 or parallel_trials < 1:
            raise ValueError(f"n_trials and parallel_trials must be >= 1, got {n_trials} and {parallel_trials}")
        self.study = study
        self.space = space
        self.objective = objective
        self.open_dispatcher = dispatcher
        self.n_trials = n_trials
        self.parallel_trials = parallel_trials
        self.first_trials = tuple(first_trials)
        self.progress = progress or NullTuningProgress()
        self.ledger = ledger

    def run(self, *, demo_ids: Sequence[str] = (), origin: str = "") -> TuningOutcome:
        interrupted = fail_interrupted_trials(self.study)
        enqueued = enqueue_first_trials(self.study, self.first_trials)
        if enqueued:
            logger.info("study %s: first trials enqueued: %s", self.study.study_name, ", ".join(enqueued))
        completed = len(completed_trials(self.study))
        self.progress.started(self.study.study_name, self.n_trials, completed)
        logger.info("study %s: %d of %d trials completed; running the rest %d at a time",
                    self.study.study_name, min(completed, self.n_trials), self.n_trials, self.parallel_trials)
        tally = _Tally()
        if completed < self.n_trials:
            with self.open_dispatcher() as dispatcher:
                while (remaining := self.n_trials - len(completed_trials(self.study))) > 0:
                    batch = [self.study.ask() for _ in range(min(self.parallel_trials, remaining))]
                    failures = [s for s in self._run_batch(dispatcher, batch, tally) if not s.valid]
                    if failures and (tally.failed == tally.ran or tally.failed > self.n_trials):
                        raise TuningError(
                            f"study {self.study.study_name}: {tally.failed} of the {tally.ran} trial(s) run now "
                            "failed; stopping",
                            [f"last failure: {failures[-1].error}", "the completed trials are kept; fix the cause "
                             "and run `demo-search tune` again to continue"],
                        )
        return self._outcome(demo_ids, origin, tally, interrupted)

    def _run_batch(self, dispatcher: UnitDispatcher, batch: list[optuna.Trial], tally: _Tally) -> list[TrialScore]:
        """Evaluate ``batch`` as one dispatcher run, telling the study each trial's result as it arrives. Answers the
        evaluation ledger holds (the same prompt, decoding and scorer evaluated before) are reused, not run."""
        params = {trial.number: self.space.suggest(trial) for trial in batch}
        units = [self.objective.unit(t.number, self.space.decoding(params[t.number])) for t in batch]
        waiting = {unit.unit_id: trial for unit, trial in zip(units, batch, strict=True)}
        remaining, reused_rows = self.ledger.split(units, {unit.unit_id: unit.unit_id for unit in units})
        reused = {rows[0].set_key: rows for rows in reused_rows}
        scores: list[TrialScore] = []
        for unit_id in waiting.keys() - {unit.unit_id for unit in remaining}:  # answered whole by the ledger
            trial = waiting.pop(unit_id)
            score = self.objective.score_of(reused[unit_id])
            self._tell(trial, score, params[trial.number])
            scores.append(score)
            tally.ran += 1
        results = dispatcher.run(remaining)
        try:
            for result in results:
                trial = waiting.pop(result.unit_id)
                if result.ok:
                    rows = self.objective.evaluations(result)
                    self.ledger.remember(result.unit_id, rows)
                    score = self.objective.score_of([*reused.get(result.unit_id, ()), *rows])
                else:
                    score = self.objective.score(result)
                self._tell(trial, score, params[trial.number])
                scores.append(score)
                tally.add(result, score)
        except BaseException:
            for trial in waiting.values():  # a SIGKILL skips this; the next run fails them instead
                self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            raise
        finally:
            results.close()
        return scores

    def _tell(self, trial: optuna.Trial, score: TrialScore, params: Mapping[str, ParamValue]) -> None:
        label = trial.user_attrs.get(FIRST_TRIAL_ATTR)
        shown = " ".join(f"{name}={value:g}" for name, value in params.items())
        name = f"trial {trial.number}" + (f" ({label})" if label else "")
        aggregate = score.aggregate
        if score.valid:
            trial.set_user_attr("stderr", aggregate.stderr)
            trial.set_user_attr("n_scored", aggregate.n)
            trial.set_user_attr("n_failed", aggregate.n_failed)
            self.study.tell(trial, aggregate.mean)
            logger.info("%s: score %.4f ± %.4f (n=%d) %s", name, aggregate.mean, aggregate.stderr, aggregate.n, shown)
        else:
            trial.set_user_attr("error", score.error)
            self.study.tell(trial, state=TrialState.FAIL)
            logger.error("%s failed: %s (%s)", name, score.error, shown)
        self.progress.trial_finished(trial.number, score, params)

    def _outcome(self, demo_ids: Sequence[str], origin: str, tally: _Tally, interrupted: list[int]) -> TuningOutcome:
        best = best_trial(self.study)
        if best is None:  # n_trials >= 1 completed trials exist once the loop ends
            raise TuningError(f"study {self.study.study_name} has no completed trial")
        baseline = trial_with_label(self.study, SEARCH_SETTINGS)
        importances = param_importances(self.study)
        outcome = TuningOutcome(
            study_name=self.study.study_name,
            demo_ids=tuple(demo_ids),
            origin=origin,
            best=self._tuned(best),
            baseline=self._tuned(baseline) if baseline is not None else None,
            completed=len(completed_trials(self.study)),
            trials_run=tally.ran,
            trials_failed=tally.failed,
            interrupted=tuple(interrupted),
            importances=importances,
            computed_tokens=tally.computed_tokens,
            cached_tokens=tally.cached_tokens,
        )
        _log_outcome(outcome)
        return outcome

    def _tuned(self, trial: FrozenTrial) -> TunedTrial:
        return TunedTrial(
            number=trial.number,
            params=dict(trial.params),
            decoding=self.space.decoding(trial.params),
            score=float(trial.value),
            stderr=trial.user_attrs.get("stderr"),
            n_scored=trial.user_attrs.get("n_scored"),
            label=trial.user_attrs.get(FIRST_TRIAL_ATTR),
        )


def _log_outcome(outcome: TuningOutcome) -> None:
    best = outcome.best
    shown = " ".join(f"{name}={value:g}" for name, value in best.params.items())
    baseline = outcome.baseline
    versus = (f"; the search's own parameters scored {baseline.score:.4f} (trial {baseline.number}), "
              f"{best.score - baseline.score:+.4f}" if baseline is not None else "")
    logger.info("study %s: best trial %d of %d completed: score %.4f%s; %s", outcome.study_name, best.number,
                outcome.completed, best.score, versus, shown)
    if outcome.importances.values:
        logger.info("parameter importances (PED-ANOVA): %s%s", ", ".join(
            f"{name} {value:.2f}" for name, value in outcome.importances.values.items()),
            f" ({outcome.importances.note})" if outcome.importances.note else "")
    else:
        logger.info("parameter importances: none (%s)", outcome.importances.note)


__all__ = ["DecodingTuner", "NullTuningProgress", "TunedTrial", "TuningOutcome", "TuningProgress"]
