"""The driver loop: propose a step's candidate sets, evaluate them on the actors, persist, select, repeat.

The database is the search's memory. Every finished unit is written at once, in one transaction; a step's
candidates and its choice are written when the step ends. On start the driver replays the recorded steps
through the strategy (no model work) and continues where the search stopped, sending only the
(candidate set, prompt) pairs that are not stored yet; that is all "resume" is. A step in which a candidate's
unit failed for good chooses nothing unless ``on_failed_candidate`` is ``skip`` (``demo_search.search.step_failures``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from db import Candidate, CandidateStatus, Step, Store
from db import Evaluation as StoredEvaluation
from demo_search.errors import DemoSearchError
from demo_search.faults import failpoint
from demo_search.scoring.base import Scorer
from demo_search.search.budget import Budget, Spending
from demo_search.search.candidates import BASE_PROPOSAL, Aggregate, Proposal, ScoredSet, rank
from demo_search.search.follow_ups import plan_follow_ups
from demo_search.search.ledger import NoLedger
from demo_search.search.problem import SearchProblem
from demo_search.search.progress import NullProgress, ProgressSink
from demo_search.search.racing import RaceSettings, RaceState, conversation_roots, item_scores, prompt_order, race
from demo_search.search.run_types import SearchOutcome, StepEvaluation, UnitDispatcher
from demo_search.search.step_failures import (
    POLICIES,
    FailedCandidate,
    FailedCandidatePolicy,
    UnitFailure,
    step_failed_error,
)
from demo_search.search.step_records import candidate_record, step_line
from demo_search.search.step_units import candidate_units, evaluation_rows
from demo_search.search.strategies import Strategy
from demo_search.search.test_split import NO_TEST_SPLIT, NoTestSplit, TestSplit
from demo_search.types import HeldOutPrompt
from workers.decoding import DecodingParams
from workers.tree import PrefixTree
from workers.units import UnitResult, WorkUnit

logger = logging.getLogger(__name__)

BASE_STEP = 0


class SearchError(DemoSearchError):
    """A search cannot go on: its base set could not be scored, or its stored trajectory does not replay."""


class SearchDriver:
    """Runs (or continues) the search ``name`` stored in ``store`` to its end.

    Generated answers use ``decoding`` with the template's stop strings added; ``strategy`` decides each step's
    candidate sets, its survivors and whether the search stops early (``min_delta``). ``on_failed_candidate``
    says what a step whose candidate failed for good does (``fail``: raise ``StepFailedError`` and record no
    choice; ``skip``: choose among the others, naming the skipped ones in their stored reasons). With ``racing``,
    each step after the base step races its candidates (``demo_search.search.racing``): rounds of prompts go only
    to the sets still in contention, and the step chooses among those that stay, each scored on every prompt.
    ``test_split`` scores the chosen sets on the test prompts (``demo_search.search.test_split``)."""

    def __init__(
        self,
        *,
        name: str,
        store: Store,
        dispatcher: UnitDispatcher,
        problem: SearchProblem,
        strategy: Strategy,
        scorer: Scorer,
        decoding: DecodingParams,
        max_steps: int,
        budget: Budget = Budget(),
        progress: ProgressSink | None = None,
        on_failed_candidate: FailedCandidatePolicy = "fail",
        test_split: TestSplit | NoTestSplit = NO_TEST_SPLIT,
        racing: RaceSettings | None = None,
        ledger: NoLedger = NoLedger(),
    ) -> None:
        if on_failed_candidate not in POLICIES:
            raise ValueError(f"on_failed_candidate must be one of {POLICIES}, got {on_failed_candidate!r}")
        self.name = name
        self.store = store
        self.dispatcher = dispatcher
        self.problem = problem
        self.strategy = strategy
        self.scorer = scorer
        self.decoding = problem.template.generation_params(decoding)
        self.max_steps = max_steps
        self.budget = budget
        self.progress = progress or NullProgress()
        self.on_failed_candidate = on_failed_candidate
        self.test_split = test_split
        self.racing = racing
        self.ledger = ledger
        self._with_targets = scorer.engine_call == "score"
        self._started = time.monotonic()
        self._pairs_computed = 0
        self._units_failed = 0
        self._computed_tokens = 0
        self._cached_tokens = 0
        summary = store.search_summary(name)
        self._spent = Spending.stored(summary)

    # -- the loop ---------------------------------------------------------------------------------------

    def run(self) -> SearchOutcome:
        beams, history, next_step = self._replay()
        stop_reason = f"max_steps ({self.max_steps}) reached"
        for step in range(next_step, self.max_steps + 1):
            proposals = self._proposals(step, beams, history)
            if not proposals:
                stop_reason = "the pool is exhausted"
                break
            evaluation = self._evaluate(step, proposals)
            if evaluation is None:
                stop_reason = "budget exhausted"
                break
            if evaluation.failed and self.on_failed_candidate == "fail":
                raise step_failed_error(self.name, step, evaluation.failed)
            ranked = evaluation.ranked
            if not ranked or not ranked[0].score.valid:
                stop_reason = f"no candidate of step {step} could be scored"
                break
            early_stop = self.strategy.stop_reason(ranked, beams) if step > BASE_STEP else None
            if early_stop is not None:
                stop_reason = early_stop
                self.progress.step_finished(step, stop_reason)
                logger.info("step %d: %s", step, stop_reason)
                break
            self._record_step(step, ranked, failed_skipped=evaluation.failed, racing=evaluation.racing)
            failpoint("after_step")
            self.test_split.step_recorded()
            beams, history = self._advance(step, ranked, history)
        best = beams[0] if beams else None
        if best is None:
            reasons = [
                f"{c.added_item_id or 'base set'}: {c.reason}"
                for c in self.store.candidates_of_step(self.name, BASE_STEP)
                if c.reason
            ]
            raise SearchError(
                f"search {self.name!r}: the base set could not be scored ({stop_reason})",
                [*reasons, "what was evaluated is stored with its errors: `demo-search status` shows the search"],
            )
        self.test_split.search_ended()
        return SearchOutcome(
            stop_reason=stop_reason,
            best=best,
            steps_recorded=len(self.store.steps(self.name)),
            pairs_computed=self._pairs_computed,
            units_failed=self._units_failed,
            computed_tokens=self._computed_tokens,
            cached_tokens=self._cached_tokens,
        )

    def _proposals(
        self, step: int, beams: list[ScoredSet], history: list[list[ScoredSet]]
    ) -> list[Proposal]:
        if step == BASE_STEP:
            return [BASE_PROPOSAL]
        return self.strategy.propose(step, beams, self.problem.pool_ids, history)

    def _advance(
        self, step: int, ranked: list[ScoredSet], history: list[list[ScoredSet]]
    ) -> tuple[list[ScoredSet], list[list[ScoredSet]]]:
        """The beams and history after recording ``step``'s ranked results."""
        if step == BASE_STEP:
            return [ranked[0]], history
        return self.strategy.survivors(ranked), [*history, ranked]

    def _replay(self) -> tuple[list[ScoredSet], list[list[ScoredSet]], int]:
        """Rebuild beams and history from the recorded steps, proposing each again (no model work)."""
        beams: list[ScoredSet] = []
        history: list[list[ScoredSet]] = []
        steps = self.store.steps(self.name)
        for record in steps:
            stored = {c.set_key: c for c in self.store.candidates_of_step(self.name, record.step_index)}
            proposals = self._proposals(record.step_index, beams, history)
            ranked = rank([self._stored_score(p, stored.get(p.candidate.key)) for p in proposals])
            if ranked[0].candidate.key != record.set_key:
                raise SearchError(
                    f"search {self.name!r}: replaying step {record.step_index} chose {ranked[0].candidate.key}, "
                    f"but the database recorded {record.set_key}; the stored trajectory does not match this strategy"
                )
            beams, history = self._advance(record.step_index, ranked, history)
        if steps:
            logger.info("search %r: resuming after step %d", self.name, steps[-1].step_index)
        return beams, history, len(steps)

    @staticmethod
    def _stored_score(proposal: Proposal, candidate: Candidate | None) -> ScoredSet:
        if candidate is None or candidate.status is not CandidateStatus.SCORED:
            return proposal.scored(Aggregate.of([]))
        return proposal.scored(Aggregate(candidate.score, candidate.stderr or 0.0, candidate.n_scored))

    # -- one step ---------------------------------------------------------------------------------------

    def _evaluate(self, step: int, proposals: list[Proposal]) -> StepEvaluation | None:
        """Evaluate the step's sets (only pairs not stored), record its candidates, return them ranked with the
        failed ones.

        ``None`` when the budget ran out before the step was complete.
        """
        tree = self.problem.step_tree([p.candidate for p in proposals], with_targets=self._with_targets)
        skipped = self.problem.over_context(
            tree, with_targets=self._with_targets, max_new_tokens=0 if self._with_targets else self.decoding.max_tokens
        )
        keys = [p.candidate.key for p in proposals if p.candidate.key not in skipped]
        failures: dict[str, UnitFailure] = {}
        race: RaceState | None = None
        racing = self.racing is not None and step > BASE_STEP
        while True:
            if racing:
                if not self._follow_ups_done(step, proposals, skipped, failures):
                    return None
                race, evaluated = self._race(step, tree, keys, failures)
                if race.finished:
                    break
            stored = self.store.evaluated_pairs(self.name, keys)
            units, set_keys = candidate_units(
                tree, step=step, skipped=skipped, stored=stored, kind=self.scorer.engine_call, decoding=self.decoding,
                wanted=race.needed if race is not None else None,
            )
            pairs = sum(len(u.tree.leaves) for u in units)
            self.progress.step_started(step, len(units), pairs, len(stored))
            logger.info(
                "step %d%s: %d candidate set(s), %d unit(s) to run (%d pairs; %d already stored; %d skipped)",
                step, f" racing round {race.round}" if race else "", len(race.contenders) if race else len(proposals),
                len(units), pairs, len(stored), len(skipped),
            )
            if not self._run_units(step, units, set_keys, failures, lambda unit_id: self.problem.prompts_by_id):
                return None
            if not racing:
                if not self._follow_ups_done(step, proposals, skipped, failures):
                    return None
                break
        labels = {p.candidate.key: p.candidate.added or "the base set" for p in proposals}
        scored = [self._record_candidate(step, p, skipped, failures, race, labels) for p in proposals]
        failed = [
            FailedCandidate(p.candidate.key, p.candidate.added, failures[p.candidate.key])
            for p in proposals
            if p.candidate.key in failures
        ]
        summary = None
        if race is not None:
            exhaustive = (len(keys) - len(failures)) * len(self.problem.prompts)
            summary = race.summary(len(keys) - len(failures), evaluated, exhaustive, self.racing)
        return StepEvaluation(rank(scored), failed, summary)

    def _follow_ups_done(
        self, step: int, proposals: list[Proposal], skipped: dict[str, str], failures: dict[str, UnitFailure]
    ) -> bool:
        """Ask every follow-up that can be asked now (none when scoring references); ``False`` if the budget ran out."""
        if not self.problem.follow_ups or self._with_targets:
            return True
        return self._ask_follow_ups(step, proposals, skipped, failures)

    def _race(
        self, step: int, tree: PrefixTree, keys: list[str], failures: dict[str, UnitFailure]
    ) -> tuple[RaceState, int]:
        """The step's race replayed from the stored scores (sets that failed for good do not race), and how many
        evaluations its sets have stored."""
        racing = [key for key in keys if key not in failures]
        rows = {key: {e.prompt_id: e.score for e in self._rows(key)} for key in racing}
        root_of = {p.id: p.id for p in self.problem.prompts}
        if not self._with_targets:
            root_of = conversation_roots(self.problem.prompts)
        scores = {key: item_scores(evaluations, root_of) for key, evaluations in rows.items()}
        order = prompt_order([leaf.leaf_id for leaf in tree.leaves], seed=self.racing.seed, step=step)
        return race(racing, scores, order, self.racing), sum(len(r) for r in rows.values())

    def _run_units(
        self,
        step: int,
        units: list[WorkUnit],
        set_keys: dict[str, str],
        failures: dict[str, UnitFailure],
        prompts_of: Callable[[str], Mapping[str, HeldOutPrompt]],
    ) -> bool:
        """Run ``units`` and persist their results (``prompts_of(unit_id)``: the held-out prompts of a unit's
        leaves); ``False`` when the budget ran out first. Leaves the evaluation ledger holds are reused, not run."""
        units = self.ledger.reuse(self.name, units, set_keys, self.progress)
        results = self.dispatcher.run(units)
        try:
            for result in results:
                self._persist(set_keys[result.unit_id], result, failures, prompts_of(result.unit_id))
                if self._budget_exhausted():
                    logger.warning("step %d: budget exhausted; stopping before the step is complete", step)
                    return False
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()
        return True

    def _ask_follow_ups(
        self, step: int, proposals: list[Proposal], skipped: dict[str, str], failures: dict[str, UnitFailure]
    ) -> bool:
        """Generate the follow-up prompts (MT-Bench's turn 2) of every candidate set that was not skipped and did
        not fail, round after round (see :func:`~demo_search.search.follow_ups.plan_follow_ups`); the answers they
        are filled with are read back from the store, so a resumed step fills them the same way. ``False`` when
        the budget ran out."""
        round_index = 1
        while True:
            round_index += 1
            active = [p.candidate for p in proposals if p.candidate.key not in skipped.keys() | failures.keys()]
            answered = [(c, self.store.evaluations_for(self.name, c.key)) for c in active]
            plan = plan_follow_ups(self.problem, answered, step=step, round_index=round_index, decoding=self.decoding)
            if plan.not_asked:
                self.store.record_evaluations(self.name, list(plan.not_asked))
            if not plan.units:
                return True
            pairs = sum(len(u.tree.leaves) for u in plan.units)
            self.progress.step_started(step, len(plan.units), pairs, 0)
            logger.info(
                "step %d: round %d asks %d follow-up prompt(s) of %d candidate set(s)", step, round_index, pairs,
                len(plan.units),
            )
            if not self._run_units(step, list(plan.units), dict(plan.set_keys), failures, plan.prompts.__getitem__):
                return False

    def _persist(
        self, set_key: str, result: UnitResult, failures: dict[str, UnitFailure], prompts: Mapping[str, HeldOutPrompt]
    ) -> None:
        if not result.ok:
            self._units_failed += 1
            failures[set_key] = UnitFailure(result.error or "unknown error", result.attempts)
            logger.error("unit %s failed after %d attempt(s): %s", result.unit_id, result.attempts, result.error)
            self.progress.unit_done(0, 0, ok=False)
            return
        rows = evaluation_rows(set_key, result, self.scorer, self.problem.template, prompts)
        failpoint("before_persist")
        self.store.record_evaluations(self.name, rows)
        failpoint("after_persist")
        self.ledger.remember(result.unit_id, rows)
        computed = sum(r.computed_tokens for r in rows)
        cached = sum(r.cached_tokens for r in rows)
        self._pairs_computed += len(rows)
        self._computed_tokens += computed
        self._cached_tokens += cached
        self._spent.add(rows)
        self.progress.unit_done(computed, cached, ok=True)

    def _budget_exhausted(self) -> bool:
        return self.budget.exhausted(self._spent, time.monotonic() - self._started)

    def _record_candidate(
        self, step: int, proposal: Proposal, skipped: dict[str, str], failures: dict[str, UnitFailure],
        race: RaceState | None, labels: dict[str, str],
    ) -> ScoredSet:
        key = proposal.candidate.key
        rows = [] if key in skipped or key in failures else self._rows(key)
        record, aggregate = candidate_record(
            step, proposal, rows=rows, skipped=skipped, failures=failures, labels=labels,
            eliminated={e.key: e for e in race.eliminated} if race else {}, policy=self.on_failed_candidate,
        )
        self.store.record_candidate(self.name, record)
        return proposal.scored(aggregate)

    def _rows(self, key: str) -> list[StoredEvaluation]:
        """The stored evaluations of set ``key`` on this search's prompts."""
        return [e for e in self.store.evaluations_for(self.name, key) if e.prompt_id in self.problem.prompts_by_id]

    def _record_step(
        self, step: int, ranked: list[ScoredSet], *, failed_skipped: list[FailedCandidate], racing: dict | None
    ) -> None:
        best = ranked[0]
        runner = ranked[1] if len(ranked) > 1 and ranked[1].score.valid else None
        self.store.record_step(
            self.name,
            Step(
                step_index=step,
                set_key=best.candidate.key,
                item_id=best.candidate.added,
                score=best.score.mean,
                stderr=best.score.stderr,
                runner_up_set_key=runner.candidate.key if runner else None,
                runner_up_item_id=runner.candidate.added if runner else None,
                runner_up_score=runner.score.mean if runner else None,
                racing=racing,
            ),
        )
        line = step_line(step, ranked, failed_skipped)
        if racing is not None:
            line += (
                f"; racing: {racing['evaluations']} of {racing['exhaustive_evaluations']} evaluations "
                f"({racing['saved_evaluations']} saved), {len(racing['eliminated'])} set(s) eliminated"
            )
        logger.info(line)
        self.progress.step_finished(step, line)
