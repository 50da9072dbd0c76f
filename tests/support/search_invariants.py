"""What must hold for every search a driver stored, checked from the database alone.

``assert_search_invariants(store, name)`` re-derives each step's decision from the stored rows, without the
driver's code, and raises ``AssertionError`` listing every row that disagrees:

* every ``scored`` candidate has one evaluation per held-out prompt; its score is the mean of the evaluations
  that have a score, its ``n_scored`` their number, its stderr the sample standard deviation over
  ``sqrt(n_scored)`` (0 for one score), and the number of evaluations without a score is the excluded count its
  reason names (no such count when none was excluded);
* steps are recorded as 0, 1, 2, ... and candidates exist only for recorded steps and the one after the last;
* each candidate of step k > 0 extends a set that survived step k-1: one of the first ``width`` sets of step
  k-1's ranking (``width`` is ``strategy.beam_width`` for ``strategy.kind: beam``, else 1, from the stored config);
* each recorded step chose the first set of the ranking under the documented rule (README, "Ties"): higher mean
  first; on equal means the set whose parent ranked better at the previous step, then the set whose added
  demonstration comes first in the pool file; sets without a score last. Its score and stderr are that
  candidate's, and its runner-up is the second set of the ranking when that one has a score (else none);
* no recorded step chose over a candidate whose unit failed (an ``engine failure`` reason) unless that candidate's
  reason says it was skipped under ``strategy.on_failed_candidate: skip`` (``SKIPPED_NOTE``).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from db import Candidate, CandidateStatus, Step, Store
from demo_search.search.step_failures import SKIPPED_NOTE

_EXCLUDED = re.compile(r"\b(\d+) failed evaluation")
"""How a scored candidate's reason names the evaluations left out of its mean."""


@dataclass(frozen=True)
class SearchCheck:
    """What one check covered."""

    name: str
    steps: int
    candidates: int
    evaluations: int


def survivors_per_step(config: Mapping[str, Any]) -> int:
    """How many sets of a step go on to the next one, from the search's stored configuration."""
    strategy = config.get("strategy") or {}
    return int(strategy.get("beam_width", 1)) if strategy.get("kind") == "beam" else 1


def assert_search_invariants(store: Store, name: str) -> SearchCheck:
    """Check the search ``name`` (see the module docstring); returns what was checked."""
    search = store.get_search(name)
    width = survivors_per_step(search.config)
    pool_position = {item.item_id: item.position for item in store.pool_items(name)}
    prompt_ids = [item.item_id for item in store.heldout_prompts(name)]
    steps = store.steps(name)
    problems: list[str] = []
    if [s.step_index for s in steps] != list(range(len(steps))):
        problems.append(f"steps are not numbered 0, 1, 2, ...: {[s.step_index for s in steps]}")

    previous: list[Candidate] = []
    candidates_checked = evaluations_checked = 0
    for index in range(len(steps) + 2):
        candidates = store.candidates_of_step(name, index)
        if index == len(steps) + 1:
            if candidates:
                problems.append(f"step {index} has candidates but step {index - 1} was never recorded")
            break
        for candidate in candidates:
            evaluations_checked += _check_scores(store, name, candidate, prompt_ids, problems)
        candidates_checked += len(candidates)
        ranking = _ranking(candidates, previous, pool_position, width, problems)
        if index < len(steps):
            _check_choice(steps[index], ranking, problems)
            _check_no_choice_over_failures(steps[index], candidates, problems)
        previous = ranking

    if problems:
        raise AssertionError(f"search {name!r} breaks the driver's invariants:\n  " + "\n  ".join(problems))
    return SearchCheck(name, len(steps), candidates_checked, evaluations_checked)


def _check_scores(store: Store, name: str, candidate: Candidate, prompt_ids: Sequence[str], problems: list[str]) -> int:
    """Check a scored candidate against its stored evaluations; returns how many evaluations were read."""
    where = f"step {candidate.step_index}, set {candidate.set_key} {list(candidate.demo_ids)}"
    if candidate.status is not CandidateStatus.SCORED:
        if candidate.score is not None:
            problems.append(f"{where}: status {candidate.status.value} but a score {candidate.score}")
        return 0
    evaluations = store.evaluations_for(name, candidate.set_key)
    if sorted(e.prompt_id for e in evaluations) != sorted(prompt_ids):
        problems.append(f"{where}: scored on {len(evaluations)} evaluations, not one per held-out prompt")
    scores = [e.score for e in evaluations if e.score is not None]
    excluded = len(evaluations) - len(scores)
    if candidate.n_scored != len(scores):
        problems.append(f"{where}: n_scored {candidate.n_scored}, but {len(scores)} stored evaluations have a score")
    if not scores:
        problems.append(f"{where}: scored, but none of its evaluations has a score")
        return len(evaluations)
    mean = statistics.fmean(scores)
    stderr = statistics.stdev(scores) / math.sqrt(len(scores)) if len(scores) > 1 else 0.0
    if candidate.score is None or not math.isclose(candidate.score, mean, rel_tol=1e-12, abs_tol=1e-12):
        problems.append(f"{where}: score {candidate.score}, but the mean of its scored evaluations is {mean}")
    if candidate.stderr is None or not math.isclose(candidate.stderr, stderr, rel_tol=1e-9, abs_tol=1e-12):
        problems.append(f"{where}: stderr {candidate.stderr}, but its evaluations give {stderr}")
    named = _EXCLUDED.search(candidate.reason or "")
    if (int(named.group(1)) if named else 0) != excluded:
        problems.append(f"{where}: {excluded} evaluation(s) without a score, but its reason is {candidate.reason!r}")
    return len(evaluations)


def _ranking(
    candidates: Sequence[Candidate],
    previous: Sequence[Candidate],
    pool_position: Mapping[str, int],
    width: int,
    problems: list[str],
) -> list[Candidate]:
    """The step's candidates in the order the tie rule gives; notes candidates whose parent did not survive."""
    parent_rank = {c.demo_ids: rank for rank, c in enumerate(previous)}

    def key(candidate: Candidate) -> tuple:
        scored = candidate.status is CandidateStatus.SCORED and candidate.score is not None
        parent = parent_rank.get(candidate.demo_ids[:-1], 0) if previous else 0
        position = pool_position.get(candidate.added_item_id, -1) if candidate.added_item_id else -1
        return (0 if scored else 1, -candidate.score if scored else 0.0, parent, position, candidate.set_key)

    for candidate in candidates:
        if not previous:
            continue
        rank = parent_rank.get(candidate.demo_ids[:-1])
        if rank is None or rank >= width:
            problems.append(
                f"step {candidate.step_index}, set {candidate.set_key}: its parent set {list(candidate.demo_ids[:-1])} "
                f"is not one of the {width} best of step {candidate.step_index - 1}"
            )
    return sorted(candidates, key=key)


def _check_no_choice_over_failures(step: Step, candidates: Sequence[Candidate], problems: list[str]) -> None:
    for candidate in candidates:
        reason = candidate.reason or ""
        engine_failure = candidate.status is CandidateStatus.FAILED and reason.startswith("engine failure")
        if engine_failure and SKIPPED_NOTE not in reason:
            problems.append(
                f"step {step.step_index} chose set {step.set_key} over set {candidate.set_key}, whose unit failed "
                f"and which is not recorded as skipped: {reason!r}"
            )


def _check_choice(step: Step, ranking: Sequence[Candidate], problems: list[str]) -> None:
    where = f"step {step.step_index}"
    if not ranking:
        problems.append(f"{where} is recorded without candidates")
        return
    best = ranking[0]
    if best.status is not CandidateStatus.SCORED:
        problems.append(f"{where} is recorded though no candidate of it has a score")
        return
    if step.set_key != best.set_key:
        problems.append(
            f"{where} chose set {step.set_key}, but the tie rule ranks {best.set_key} first: "
            + ", ".join(f"{c.set_key}={c.score}" for c in ranking[:4])
        )
        return
    if (step.item_id, step.score, step.stderr) != (best.added_item_id, best.score, best.stderr):
        problems.append(
            f"{where} records item {step.item_id} score {step.score} ± {step.stderr}, but its chosen candidate has "
            f"{best.added_item_id} {best.score} ± {best.stderr}"
        )
    runner = ranking[1] if len(ranking) > 1 and ranking[1].status is CandidateStatus.SCORED else None
    expected = (runner.set_key, runner.added_item_id, runner.score) if runner else (None, None, None)
    recorded = (step.runner_up_set_key, step.runner_up_item_id, step.runner_up_score)
    if recorded != expected:
        problems.append(f"{where} records runner-up {recorded}, but the ranking's second scored set is {expected}")
