"""What a search computes: evaluations of (set, prompt) pairs, the candidates of each step, and the steps."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from db.clock import utc_now
from db.conversions import candidate_from_row, evaluation_from_row, evaluation_to_row, step_from_row
from db.errors import RecordConflictError
from db.records import Candidate, Evaluation, SetTotals, Step
from db.store_part import CANDIDATES, EVALUATIONS, HELDOUT_PROMPTS, IN_CHUNK, STEPS, StorePart


class Results(StorePart):
    """A search's results. Writes that a resumed driver may repeat are idempotent: evaluations and steps are
    inserted with insert-on-conflict-do-nothing, candidates are upserted."""

    # --- evaluations ----------------------------------------------------------------------------------------

    def record_evaluations(self, name: str, evaluations: Iterable[Evaluation]) -> int:
        """Store one unit's evaluations in one transaction; pairs already stored are kept as they are.

        Returns how many pairs were new, so a re-sent unit stores (and counts) nothing twice.
        """
        batch = list(evaluations)
        what = f"recording {len(batch)} evaluations of search {name!r} (is every prompt_id a held-out prompt?)"
        with self._transactions.scope(what, write=True) as session:
            search_id = self._search_id(session, name)
            if not batch:
                return 0
            rows = [evaluation_to_row(search_id, evaluation) for evaluation in batch]
            c = EVALUATIONS.c
            statement = (
                self._insert(EVALUATIONS)
                .on_conflict_do_nothing(index_elements=[c.search_id, c.set_key, c.prompt_id])
                .returning(c.prompt_id)
            )
            return len(session.execute(statement, rows).all())

    def evaluated_pairs(self, name: str, set_keys: Iterable[str]) -> set[tuple[str, str]]:
        """The (set key, prompt id) pairs of ``set_keys`` that are already stored."""
        keys = list(dict.fromkeys(set_keys))
        c = EVALUATIONS.c
        with self._transactions.scope(f"reading evaluated pairs of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            pairs: set[tuple[str, str]] = set()
            for start in range(0, len(keys), IN_CHUNK):
                chunk = keys[start : start + IN_CHUNK]
                statement = select(c.set_key, c.prompt_id).where(c.search_id == search_id, c.set_key.in_(chunk))
                pairs.update((row.set_key, row.prompt_id) for row in session.execute(statement))
            return pairs

    def evaluations_for(self, name: str, set_key: str) -> list[Evaluation]:
        """The stored evaluations of one candidate set, in held-out prompt order."""
        c, prompts = EVALUATIONS.c, HELDOUT_PROMPTS.c
        with self._transactions.scope(f"reading evaluations of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            statement = (
                select(*EVALUATIONS.c)
                .join(HELDOUT_PROMPTS, (prompts.search_id == c.search_id) & (prompts.item_id == c.prompt_id))
                .where(c.search_id == search_id, c.set_key == set_key)
                .order_by(prompts.position)
            )
            return [evaluation_from_row(row) for row in session.execute(statement)]

    def evaluation(self, name: str, set_key: str, prompt_id: str) -> Evaluation | None:
        """The stored evaluation of one (candidate set, held-out prompt) pair, or ``None`` if it is not stored."""
        c = EVALUATIONS.c
        with self._transactions.scope(f"reading an evaluation of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            statement = select(*EVALUATIONS.c).where(
                c.search_id == search_id, c.set_key == set_key, c.prompt_id == prompt_id
            )
            row = session.execute(statement).one_or_none()
            return None if row is None else evaluation_from_row(row)

    def set_totals(self, name: str) -> list[SetTotals]:
        """Per candidate set with stored evaluations: their count, failures and token sums; by set key."""
        c = EVALUATIONS.c
        statement = (
            select(
                c.set_key,
                func.count().label("evaluations"),
                func.count(c.error).label("failed"),
                func.coalesce(func.sum(c.prompt_tokens), 0).label("prompt_tokens"),
                func.coalesce(func.sum(c.computed_tokens), 0).label("computed_tokens"),
                func.coalesce(func.sum(c.cached_tokens), 0).label("cached_tokens"),
            )
            .group_by(c.set_key)
            .order_by(c.set_key)
        )
        with self._transactions.scope(f"summing the evaluations of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            return [
                SetTotals(
                    set_key=row.set_key,
                    evaluations=int(row.evaluations),
                    failed=int(row.failed),
                    prompt_tokens=int(row.prompt_tokens),
                    computed_tokens=int(row.computed_tokens),
                    cached_tokens=int(row.cached_tokens),
                )
                for row in session.execute(statement.where(c.search_id == search_id))
            ]

    # --- candidates and steps -------------------------------------------------------------------------------

    def record_candidate(self, name: str, candidate: Candidate) -> None:
        """Store (or overwrite) the outcome of one candidate set at one step."""
        values = {
            "step_index": candidate.step_index,
            "set_key": candidate.set_key,
            "demo_ids": list(candidate.demo_ids),
            "added_item_id": candidate.added_item_id,
            "status": candidate.status.value,
            "score": candidate.score,
            "stderr": candidate.stderr,
            "n_scored": candidate.n_scored,
            "reason": candidate.reason,
        }
        what = (
            f"recording candidate {candidate.set_key} of step {candidate.step_index} of search {name!r} "
            "(is its added item in the search's pool?)"
        )
        c = CANDIDATES.c
        with self._transactions.scope(what, write=True) as session:
            search_id = self._search_id(session, name)
            insert = self._insert(CANDIDATES).values(search_id=search_id, **values)
            changed = {key: insert.excluded[key] for key in values if key not in ("step_index", "set_key")}
            session.execute(
                insert.on_conflict_do_update(
                    index_elements=[c.search_id, c.step_index, c.set_key], set_={**changed, "updated_at": utc_now()}
                )
            )

    def candidates_of_step(self, name: str, step_index: int) -> list[Candidate]:
        """The candidates recorded for one step, ordered by set key."""
        c = CANDIDATES.c
        with self._transactions.scope(f"reading candidates of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            statement = (
                select(*CANDIDATES.c).where(c.search_id == search_id, c.step_index == step_index).order_by(c.set_key)
            )
            return [candidate_from_row(row) for row in session.execute(statement)]

    def all_candidates(self, name: str) -> list[Candidate]:
        """Every candidate recorded for the search, ordered by step, then set key."""
        c = CANDIDATES.c
        with self._transactions.scope(f"reading candidates of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            statement = select(*CANDIDATES.c).where(c.search_id == search_id).order_by(c.step_index, c.set_key)
            return [candidate_from_row(row) for row in session.execute(statement)]

    def record_step(self, name: str, step: Step) -> Step:
        """Store the outcome of a step, once; recording the same outcome again is a no-op.

        The chosen set must be a recorded candidate of that step. Recording a different outcome for a step
        already stored raises :class:`RecordConflictError`. Returns the stored step.
        """
        what = f"recording step {step.step_index} of search {name!r} (is set {step.set_key} a candidate of it?)"
        c = STEPS.c
        with self._transactions.scope(what, write=True) as session:
            search_id = self._search_id(session, name)
            statement = (
                self._insert(STEPS)
                .values(
                    search_id=search_id,
                    step_index=step.step_index,
                    set_key=step.set_key,
                    item_id=step.item_id,
                    score=step.score,
                    stderr=step.stderr,
                    runner_up_set_key=step.runner_up_set_key,
                    runner_up_item_id=step.runner_up_item_id,
                    runner_up_score=step.runner_up_score,
                    racing=dict(step.racing) if step.racing is not None else None,
                )
                .on_conflict_do_nothing(index_elements=[c.search_id, c.step_index])
                .returning(*STEPS.c)
            )
            row = session.execute(statement).one_or_none()
            if row is not None:
                return step_from_row(row)
            stored = step_from_row(
                session.execute(select(*STEPS.c).where(c.search_id == search_id, c.step_index == step.step_index)).one()
            )
            if not stored.same_outcome(step):
                raise RecordConflictError(
                    f"step {step.step_index} of search {name!r} is already recorded as {stored}; "
                    f"refusing to replace it with {step}"
                )
            return stored

    def steps(self, name: str) -> list[Step]:
        """The search's recorded steps, in order."""
        c = STEPS.c
        with self._transactions.scope(f"reading steps of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            statement = select(*STEPS.c).where(c.search_id == search_id).order_by(c.step_index)
            return [step_from_row(row) for row in session.execute(statement)]
