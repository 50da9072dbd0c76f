"""What the driver records for a step: each candidate's outcome, and the step's log line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from db import Candidate, CandidateStatus
from db import Evaluation as StoredEvaluation
from demo_search.search.candidates import Aggregate, Proposal, ScoredSet
from demo_search.search.racing import Elimination
from demo_search.search.step_failures import FailedCandidate, FailedCandidatePolicy, UnitFailure


def candidate_record(
    step: int,
    proposal: Proposal,
    *,
    rows: Sequence[StoredEvaluation],
    skipped: Mapping[str, str],
    failures: Mapping[str, UnitFailure],
    eliminated: Mapping[str, Elimination],
    labels: Mapping[str, str],
    policy: FailedCandidatePolicy,
) -> tuple[Candidate, Aggregate]:
    """The stored outcome of ``proposal`` at ``step`` and the aggregate it ranks with (empty unless scored).

    ``rows`` are its stored evaluations of the search's prompts; a skipped, failed or eliminated set is recorded
    with its reason and ranks after every scored set; ``labels`` name sets in an elimination's reason.
    """
    candidate = proposal.candidate
    key = candidate.key
    base = dict(step_index=step, set_key=key, demo_ids=candidate.demo_ids, added_item_id=candidate.added)
    empty = Aggregate.of([])
    if key in skipped:
        return Candidate(**base, status=CandidateStatus.SKIPPED, reason=skipped[key]), empty
    if key in failures:
        return Candidate(**base, status=CandidateStatus.FAILED, reason=failures[key].reason(policy)), empty
    scores = [e.score for e in rows if e.score is not None]
    if key in eliminated:
        reason = elimination_reason(eliminated[key], labels)
        return Candidate(**base, status=CandidateStatus.ELIMINATED, n_scored=len(scores), reason=reason), empty
    aggregate = Aggregate.of(scores, n_failed=len(rows) - len(scores))
    if not aggregate.valid:
        reason = f"all {len(rows)} evaluations failed" + (f", e.g. {rows[0].error}" if rows else "")
        return Candidate(**base, status=CandidateStatus.FAILED, reason=reason), aggregate
    return (
        Candidate(
            **base, status=CandidateStatus.SCORED, score=aggregate.mean, stderr=aggregate.stderr, n_scored=aggregate.n,
            reason=f"{aggregate.n_failed} failed evaluation(s) excluded" if aggregate.n_failed else None,
        ),
        aggregate,
    )


def elimination_reason(elimination: Elimination, labels: Mapping[str, str]) -> str:
    """Why a set left the race, naming its round, the prompts it saw and its test."""
    leaders = ", ".join(labels.get(key, key) for key in elimination.leaders)
    return (
        f"eliminated by racing in round {elimination.round}, after the first {elimination.prompts} prompt(s) of the "
        f"step's racing order: mean difference to {leaders} {elimination.difference:+.4f}, p-value of being as good "
        f"{elimination.p_value:.2e} <= {elimination.level:.2e}"
    )


def step_line(step: int, ranked: Sequence[ScoredSet], failed_skipped: Sequence[FailedCandidate]) -> str:
    """The log line of a recorded step: the chosen set, its score, the runner-up, and the sets skipped as failed."""
    best = ranked[0]
    runner = ranked[1] if len(ranked) > 1 and ranked[1].score.valid else None
    if step == 0:
        line = f"base set: score {best.score.mean:.4f} ± {best.score.stderr:.4f} (n={best.score.n})"
    else:
        margin = f", margin {best.score.mean - runner.score.mean:+.4f}" if runner else ""
        runner_text = (
            f"; runner-up {runner.candidate.added} {runner.score.mean:.4f}{margin}" if runner else "; no runner-up"
        )
        line = (
            f"step {step}: chose {best.candidate.added} score {best.score.mean:.4f} ± {best.score.stderr:.4f} "
            f"(n={best.score.n}){runner_text}"
        )
    if failed_skipped:
        line += f"; skipped, as failed: {', '.join(f.label for f in failed_skipped)}"
    return line


__all__ = ["candidate_record", "elimination_reason", "step_line"]
