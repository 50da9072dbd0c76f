"""The store: the one API through which demo-search reads and writes its database.

Every method runs in exactly one transaction (:class:`db.transactions.Transactions`): it is stored entirely or not
at all, and fails only with :class:`db.errors.StoreError` or a subclass. Searches are named by their unique name.
Writes that a resumed driver may repeat are idempotent: items, evaluations and steps are inserted with
insert-on-conflict-do-nothing, candidates are upserted.
"""

from __future__ import annotations

import difflib
import logging
import os
import socket
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, Table, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.clock import utc_after, utc_now
from db.conversions import (
    as_utc,
    candidate_from_row,
    checked_json,
    evaluation_from_row,
    evaluation_to_row,
    lease_from_row,
    search_from_row,
    step_from_row,
    tuning_result_from_row,
)
from db.engine import DEFAULT_BUSY_TIMEOUT_S, create_store_engine, display_url, parse_url, sqlite_file
from db.errors import (
    DatabaseNotFoundError,
    LeaseHeldError,
    LeaseLostError,
    RecordConflictError,
    SearchExistsError,
    SearchNotFoundError,
    StoreError,
)
from db.models import (
    EvaluationRow,
    HeldoutPromptRow,
    LeaseRow,
    PoolItemRow,
    SearchRow,
    StepCandidateRow,
    StepRow,
    TuningResultRow,
)
from db.records import (
    MAX_NAME_LENGTH,
    MAX_OWNER_LENGTH,
    Candidate,
    Evaluation,
    Lease,
    Search,
    SearchStatus,
    SearchSummary,
    Step,
    StoredItem,
    TuningResult,
)
from db.schema import BUNDLED_MIGRATIONS, DatabaseInfo, ensure_current
from db.transactions import Transactions

logger = logging.getLogger(__name__)

_IN_CHUNK = 500
"""Most values bound in one ``IN (...)`` (SQLite and PostgreSQL both cap a statement's parameters)."""

_searches: Table = SearchRow.__table__  # type: ignore[assignment]
_pool_items: Table = PoolItemRow.__table__  # type: ignore[assignment]
_heldout_prompts: Table = HeldoutPromptRow.__table__  # type: ignore[assignment]
_candidates: Table = StepCandidateRow.__table__  # type: ignore[assignment]
_steps: Table = StepRow.__table__  # type: ignore[assignment]
_evaluations: Table = EvaluationRow.__table__  # type: ignore[assignment]
_leases: Table = LeaseRow.__table__  # type: ignore[assignment]
_tuning_results: Table = TuningResultRow.__table__  # type: ignore[assignment]


def default_lease_owner() -> str:
    """An owner string naming this process: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Store:
    """A demo-search database (SQLite file or PostgreSQL), opened with :meth:`open`; close it with :meth:`close`."""

    def __init__(self, engine: Engine, url: URL, info: DatabaseInfo) -> None:
        """Use :meth:`open`; this wraps an engine whose schema :func:`db.schema.ensure_current` has checked."""
        self._engine = engine
        self._url = url
        self._info = info
        self._transactions = Transactions(engine)
        self._dialect = engine.dialect.name

    @classmethod
    def open(
        cls,
        url: str | URL,
        *,
        create: bool = True,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        migrations_dir: Path = BUNDLED_MIGRATIONS,
    ) -> Store:
        """Open the store on ``url``, checking that its schema is at the newest revision.

        A database with no tables is given the schema when ``create`` is true (with ``create`` false, a missing
        SQLite file is :class:`DatabaseNotFoundError` and is not created). A database at an older revision raises
        :class:`SchemaVersionError` naming ``demo-search db upgrade``; so does a newer or a foreign one.
        """
        parsed = parse_url(url)
        path = sqlite_file(parsed)
        if not create and path is not None and not path.is_file():
            raise DatabaseNotFoundError(
                f"SQLite database {path} does not exist; check the database URL, or run `demo-search db upgrade`"
            )
        engine = create_store_engine(parsed, busy_timeout_s=busy_timeout_s)
        try:
            info = ensure_current(engine, parsed, create=create, migrations_dir=migrations_dir)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, parsed, info)

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return display_url(self._url)

    @property
    def schema_revision(self) -> str | None:
        return self._info.revision

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- searches -------------------------------------------------------------------------------------------

    def create_search(
        self,
        name: str,
        *,
        config: Mapping[str, Any],
        fingerprint: str,
        fingerprint_parts: Mapping[str, str],
        rules: str = "",
        fixed_demos: Sequence[Mapping[str, Any]] = (),
    ) -> Search:
        """Store a new search with status ``created``; :class:`SearchExistsError` if ``name`` is taken.

        ``rules`` and ``fixed_demos`` (JSON objects) are kept with it, so exports need no original file.
        """
        if not name or len(name) > MAX_NAME_LENGTH:
            raise StoreError(f"a search name must have 1 to {MAX_NAME_LENGTH} characters, got {name!r}")
        statement = (
            self._insert(_searches)
            .values(
                name=name,
                config=checked_json(config, f"the config of search {name!r}"),
                fingerprint=fingerprint,
                fingerprint_parts=checked_json(fingerprint_parts, f"the fingerprint parts of search {name!r}"),
                rules=rules,
                fixed_demos=[
                    checked_json(demo, f"fixed demonstration {i} of search {name!r}") for i, demo in enumerate(fixed_demos)
                ],
                status=SearchStatus.CREATED.value,
            )
            .on_conflict_do_nothing(index_elements=[_searches.c.name])
            .returning(*_searches.c)
        )
        with self._transactions.scope(f"creating search {name!r}", write=True) as session:
            row = session.execute(statement).one_or_none()
            if row is None:
                existing = self._search_row(session, name)
                raise SearchExistsError(
                    f"a search named {name!r} already exists in {self.url} (status {existing.status}, created "
                    f"{as_utc(existing.created_at):%Y-%m-%d %H:%M:%S}Z); resume it or choose another name"
                )
            return search_from_row(row)

    def get_search(self, name: str) -> Search:
        """The search named ``name``; :class:`SearchNotFoundError` (with close names) if there is none."""
        with self._transactions.scope(f"reading search {name!r}", write=False) as session:
            return search_from_row(self._search_row(session, name))

    def find_search(self, name: str) -> Search | None:
        """The search named ``name``, or ``None``."""
        with self._transactions.scope(f"reading search {name!r}", write=False) as session:
            row = session.execute(select(*_searches.c).where(_searches.c.name == name)).one_or_none()
            return None if row is None else search_from_row(row)

    def list_searches(self) -> list[SearchSummary]:
        """Every search, oldest first, with its progress."""
        search_id = _searches.c.id
        steps_done = select(func.count()).where(_steps.c.search_id == search_id).scalar_subquery()
        evaluations = select(func.count()).where(_evaluations.c.search_id == search_id).scalar_subquery()
        failed = (
            select(func.count())
            .where(_evaluations.c.search_id == search_id, _evaluations.c.error.is_not(None))
            .scalar_subquery()
        )
        last_score = (
            select(_steps.c.score)
            .where(_steps.c.search_id == search_id)
            .order_by(_steps.c.step_index.desc())
            .limit(1)
            .scalar_subquery()
        )
        statement = select(
            *_searches.c,
            steps_done.label("steps_done"),
            evaluations.label("n_evaluations"),
            failed.label("failed_evaluations"),
            last_score.label("last_step_score"),
        ).order_by(search_id)
        with self._transactions.scope("listing searches", write=False) as session:
            return [
                SearchSummary(
                    search=search_from_row(row),
                    steps_done=row.steps_done,
                    evaluations=row.n_evaluations,
                    failed_evaluations=row.failed_evaluations,
                    last_step_score=row.last_step_score,
                )
                for row in session.execute(statement)
            ]

    def set_status(self, name: str, status: SearchStatus, *, stop_reason: str | None = None) -> Search:
        """Set the search's status; ``finished_at`` is stamped for a final status and cleared otherwise.

        ``stop_reason`` (why the search stopped) is stored when given and cleared when the search runs again.
        """
        status = SearchStatus(status)
        values: dict[str, Any] = dict(
            status=status.value, updated_at=utc_now(), finished_at=utc_now() if status.is_final else None
        )
        if stop_reason is not None or status is SearchStatus.RUNNING:
            values["stop_reason"] = stop_reason
        statement = update(_searches).where(_searches.c.name == name).values(**values).returning(*_searches.c)
        with self._transactions.scope(f"setting the status of search {name!r}", write=True) as session:
            row = session.execute(statement).one_or_none()
            if row is None:
                raise self._not_found(session, name)
            return search_from_row(row)

    # --- pool items and held-out prompts --------------------------------------------------------------------

    def add_pool_items(self, name: str, items: Iterable[StoredItem]) -> int:
        """Store the search's candidate pool; items already stored are kept. Returns how many were new."""
        return self._add_items(_pool_items, "pool items", name, items)

    def pool_items(self, name: str) -> list[StoredItem]:
        """The search's pool, in position order."""
        return self._items(_pool_items, "pool items", name)

    def add_heldout_prompts(self, name: str, items: Iterable[StoredItem]) -> int:
        """Store the search's held-out prompts; prompts already stored are kept. Returns how many were new."""
        return self._add_items(_heldout_prompts, "held-out prompts", name, items)

    def heldout_prompts(self, name: str) -> list[StoredItem]:
        """The search's held-out prompts, in position order."""
        return self._items(_heldout_prompts, "held-out prompts", name)

    def _add_items(self, table: Table, kind: str, name: str, items: Iterable[StoredItem]) -> int:
        what = f"adding {kind} to search {name!r} (an item id at a position taken by another item?)"
        with self._transactions.scope(what, write=True) as session:
            search_id = self._search_id(session, name)
            rows = [
                {
                    "search_id": search_id,
                    "item_id": item.item_id,
                    "position": item.position,
                    "payload": checked_json(item.payload, f"the payload of item {item.item_id}"),
                }
                for item in items
            ]
            if not rows:
                return 0
            statement = (
                self._insert(table)
                .on_conflict_do_nothing(index_elements=[table.c.search_id, table.c.item_id])
                .returning(table.c.item_id)
            )
            return len(session.execute(statement, rows).all())

    def _items(self, table: Table, kind: str, name: str) -> list[StoredItem]:
        with self._transactions.scope(f"reading the {kind} of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            statement = select(table.c.item_id, table.c.position, table.c.payload).where(table.c.search_id == search_id)
            return [
                StoredItem(item_id=row.item_id, position=row.position, payload=row.payload)
                for row in session.execute(statement.order_by(table.c.position))
            ]

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
            c = _evaluations.c
            statement = (
                self._insert(_evaluations)
                .on_conflict_do_nothing(index_elements=[c.search_id, c.set_key, c.prompt_id])
                .returning(c.prompt_id)
            )
            return len(session.execute(statement, rows).all())

    def evaluated_pairs(self, name: str, set_keys: Iterable[str]) -> set[tuple[str, str]]:
        """The (set key, prompt id) pairs of ``set_keys`` that are already stored."""
        keys = list(dict.fromkeys(set_keys))
        c = _evaluations.c
        with self._transactions.scope(f"reading evaluated pairs of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            pairs: set[tuple[str, str]] = set()
            for start in range(0, len(keys), _IN_CHUNK):
                chunk = keys[start : start + _IN_CHUNK]
                statement = select(c.set_key, c.prompt_id).where(c.search_id == search_id, c.set_key.in_(chunk))
                pairs.update((row.set_key, row.prompt_id) for row in session.execute(statement))
            return pairs

    def evaluations_for(self, name: str, set_key: str) -> list[Evaluation]:
        """The stored evaluations of one candidate set, in held-out prompt order."""
        c, prompts = _evaluations.c, _heldout_prompts.c
        with self._transactions.scope(f"reading evaluations of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            statement = (
                select(*_evaluations.c)
                .join(_heldout_prompts, (prompts.search_id == c.search_id) & (prompts.item_id == c.prompt_id))
                .where(c.search_id == search_id, c.set_key == set_key)
                .order_by(prompts.position)
            )
            return [evaluation_from_row(row) for row in session.execute(statement)]

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
        c = _candidates.c
        with self._transactions.scope(what, write=True) as session:
            search_id = self._search_id(session, name)
            insert = self._insert(_candidates).values(search_id=search_id, **values)
            changed = {key: insert.excluded[key] for key in values if key not in ("step_index", "set_key")}
            session.execute(
                insert.on_conflict_do_update(
                    index_elements=[c.search_id, c.step_index, c.set_key], set_={**changed, "updated_at": utc_now()}
                )
            )

    def candidates_of_step(self, name: str, step_index: int) -> list[Candidate]:
        """The candidates recorded for one step, ordered by set key."""
        c = _candidates.c
        with self._transactions.scope(f"reading candidates of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            statement = (
                select(*_candidates.c).where(c.search_id == search_id, c.step_index == step_index).order_by(c.set_key)
            )
            return [candidate_from_row(row) for row in session.execute(statement)]

    def record_step(self, name: str, step: Step) -> Step:
        """Store the outcome of a step, once; recording the same outcome again is a no-op.

        The chosen set must be a recorded candidate of that step. Recording a different outcome for a step
        already stored raises :class:`RecordConflictError`. Returns the stored step.
        """
        what = f"recording step {step.step_index} of search {name!r} (is set {step.set_key} a candidate of it?)"
        c = _steps.c
        with self._transactions.scope(what, write=True) as session:
            search_id = self._search_id(session, name)
            statement = (
                self._insert(_steps)
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
                )
                .on_conflict_do_nothing(index_elements=[c.search_id, c.step_index])
                .returning(*_steps.c)
            )
            row = session.execute(statement).one_or_none()
            if row is not None:
                return step_from_row(row)
            stored = step_from_row(
                session.execute(
                    select(*_steps.c).where(c.search_id == search_id, c.step_index == step.step_index)
                ).one()
            )
            if not stored.same_outcome(step):
                raise RecordConflictError(
                    f"step {step.step_index} of search {name!r} is already recorded as {stored}; "
                    f"refusing to replace it with {step}"
                )
            return stored

    def steps(self, name: str) -> list[Step]:
        """The search's recorded steps, in order."""
        c = _steps.c
        with self._transactions.scope(f"reading steps of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            statement = select(*_steps.c).where(c.search_id == search_id).order_by(c.step_index)
            return [step_from_row(row) for row in session.execute(statement)]

    # --- leases ---------------------------------------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, ttl_s: float) -> Lease:
        """Take the search's lease for ``ttl_s`` seconds of the database's clock.

        Granted when nobody holds it, when the holder's lease has expired, or when ``owner`` already holds it
        (then it is extended). Otherwise :class:`LeaseHeldError` names the holder and until when. One atomic
        upsert decides, so of two drivers racing for a free lease exactly one wins.
        """
        _check_lease_args(owner, ttl_s)
        c = _leases.c
        with self._transactions.scope(f"acquiring the lease of search {name!r}", write=True) as session:
            search_id = self._search_id(session, name)
            insert = self._insert(_leases).values(
                search_id=search_id, owner=owner, acquired_at=utc_now(), expires_at=utc_after(ttl_s)
            )
            new = insert.excluded
            statement = insert.on_conflict_do_update(
                index_elements=[c.search_id],
                set_={
                    "owner": new.owner,
                    "acquired_at": case((c.owner == new.owner, c.acquired_at), else_=new.acquired_at),
                    "expires_at": new.expires_at,
                },
                where=or_(c.owner == new.owner, c.expires_at <= utc_now()),
            ).returning(c.owner, c.acquired_at, c.expires_at)
            row = session.execute(statement).one_or_none()
            if row is None:
                holder = session.execute(
                    select(c.owner, c.expires_at, utc_now().label("now")).where(c.search_id == search_id)
                ).one()
                expires_at = as_utc(holder.expires_at)
                remaining_s = (expires_at - as_utc(holder.now)).total_seconds()
                raise LeaseHeldError(name, holder.owner, expires_at, remaining_s)
            logger.debug("lease of search %r held by %s until %s", name, owner, row.expires_at)
            return lease_from_row(name, row)

    def renew_lease(self, name: str, owner: str, ttl_s: float) -> Lease:
        """Extend ``owner``'s lease to ``ttl_s`` seconds from now (database clock).

        :class:`LeaseLostError` if ``owner`` no longer holds it (released, or taken by another driver after it
        expired): the caller must stop working on the search.
        """
        _check_lease_args(owner, ttl_s)
        c = _leases.c
        with self._transactions.scope(f"renewing the lease of search {name!r}", write=True) as session:
            search_id = self._search_id(session, name)
            statement = (
                update(_leases)
                .where(c.search_id == search_id, c.owner == owner)
                .values(expires_at=utc_after(ttl_s))
                .returning(c.owner, c.acquired_at, c.expires_at)
            )
            row = session.execute(statement).one_or_none()
            if row is None:
                holder = session.execute(select(c.owner).where(c.search_id == search_id)).scalar_one_or_none()
                now = "nobody holds it" if holder is None else f"it is now held by {holder}"
                raise LeaseLostError(f"{owner} no longer holds the lease of search {name!r}: {now}")
            return lease_from_row(name, row)

    def take_over_lease(self, name: str, stale_owner: str, owner: str, ttl_s: float) -> Lease:
        """Replace ``stale_owner``'s lease by ``owner``'s, for a caller that knows the holder is dead.

        Atomic compare-and-swap: succeeds only while ``stale_owner`` still holds the row, so of two drivers
        taking over from the same dead one, exactly one wins; the other gets :class:`LeaseHeldError`.
        """
        _check_lease_args(owner, ttl_s)
        c = _leases.c
        with self._transactions.scope(f"taking over the lease of search {name!r}", write=True) as session:
            search_id = self._search_id(session, name)
            row = session.execute(
                update(_leases)
                .where(c.search_id == search_id, c.owner == stale_owner)
                .values(owner=owner, acquired_at=utc_now(), expires_at=utc_after(ttl_s))
                .returning(c.owner, c.acquired_at, c.expires_at)
            ).one_or_none()
            if row is None:
                holder = session.execute(
                    select(c.owner, c.expires_at, utc_now().label("now")).where(c.search_id == search_id)
                ).one_or_none()
                if holder is None:
                    raise LeaseLostError(f"search {name!r} has no lease held by {stale_owner} to take over")
                expires_at = as_utc(holder.expires_at)
                raise LeaseHeldError(name, holder.owner, expires_at, (expires_at - as_utc(holder.now)).total_seconds())
            logger.info("lease of search %r taken over from %s by %s", name, stale_owner, owner)
            return lease_from_row(name, row)

    def release_lease(self, name: str, owner: str) -> bool:
        """Give up ``owner``'s lease; ``False`` (and nothing changed) if ``owner`` did not hold it."""
        c = _leases.c
        with self._transactions.scope(f"releasing the lease of search {name!r}", write=True) as session:
            search_id = self._search_id(session, name)
            result = session.execute(delete(_leases).where(c.search_id == search_id, c.owner == owner))
            return bool(result.rowcount)

    def lease_of(self, name: str) -> Lease | None:
        """The search's lease row, live or expired, or ``None`` when nobody has held it since its release."""
        c = _leases.c
        with self._transactions.scope(f"reading the lease of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            row = session.execute(
                select(c.owner, c.acquired_at, c.expires_at).where(c.search_id == search_id)
            ).one_or_none()
            return None if row is None else lease_from_row(name, row)

    # --- decoding tuning ------------------------------------------------------------------------------------

    def record_tuning_result(self, name: str, result: TuningResult) -> TuningResult:
        """Store (or replace) the result of the tuning study ``result.study_name`` of the search; returns it as
        stored. A resumed or extended study records its result again under the same study name."""
        values = {
            "demo_ids": list(result.demo_ids),
            "params": checked_json(result.params, f"the parameters of tuning study {result.study_name!r}"),
            "score": result.score,
            "stderr": result.stderr,
            "baseline_score": result.baseline_score,
            "n_trials": result.n_trials,
            "importances": checked_json(result.importances, f"the importances of tuning study {result.study_name!r}"),
        }
        c = _tuning_results.c
        what = f"recording tuning study {result.study_name!r} of search {name!r}"
        with self._transactions.scope(what, write=True) as session:
            search_id = self._search_id(session, name)
            insert = self._insert(_tuning_results).values(search_id=search_id, study_name=result.study_name, **values)
            row = session.execute(
                insert.on_conflict_do_update(
                    index_elements=[c.search_id, c.study_name],
                    set_={**{key: insert.excluded[key] for key in values}, "updated_at": utc_now()},
                ).returning(*_tuning_results.c)
            ).one()
            return tuning_result_from_row(row)

    def tuning_results(self, name: str) -> list[TuningResult]:
        """The search's tuning results, most recently updated last."""
        c = _tuning_results.c
        with self._transactions.scope(f"reading tuning results of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            statement = select(*_tuning_results.c).where(c.search_id == search_id).order_by(c.updated_at, c.study_name)
            return [tuning_result_from_row(row) for row in session.execute(statement)]

    # --- helpers --------------------------------------------------------------------------------------------

    def _insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """The dialect's INSERT, which has ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def _search_row(self, session: Session, name: str) -> Any:
        row = session.execute(select(*_searches.c).where(_searches.c.name == name)).one_or_none()
        if row is None:
            raise self._not_found(session, name)
        return row

    def _search_id(self, session: Session, name: str) -> int:
        search_id = session.execute(select(_searches.c.id).where(_searches.c.name == name)).scalar_one_or_none()
        if search_id is None:
            raise self._not_found(session, name)
        return int(search_id)

    def _not_found(self, session: Session, name: str) -> SearchNotFoundError:
        names = list(session.execute(select(_searches.c.name)).scalars())
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(repr(n) for n in close)}?" if close else ""
        return SearchNotFoundError(f"no search named {name!r} in {self.url} ({len(names)} searches stored){hint}")


def _check_lease_args(owner: str, ttl_s: float) -> None:
    if not owner or len(owner) > MAX_OWNER_LENGTH:
        raise StoreError(f"a lease owner must have 1 to {MAX_OWNER_LENGTH} characters, got {owner!r}")
    if not ttl_s > 0:
        raise StoreError(f"a lease's ttl_s must be > 0 seconds, got {ttl_s}")
