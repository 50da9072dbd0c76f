"""Leases: one live driver per search, stamped and expired by the database's clock."""

from __future__ import annotations

import logging

from sqlalchemy import case, delete, or_, select, update

from db.clock import utc_after, utc_now
from db.conversions import as_utc, lease_from_row
from db.errors import LeaseHeldError, LeaseLostError, StoreError
from db.records import MAX_OWNER_LENGTH, Lease
from db.store_part import LEASES, StorePart

logger = logging.getLogger(__name__)


class Leases(StorePart):
    """A search's lease: held by one owner string (see :class:`db.lease_owner.LeaseOwner`) until it expires,
    renewed by its holder, released when done. Times are the database server's, so clients' clocks don't matter."""

    def acquire_lease(self, name: str, owner: str, ttl_s: float) -> Lease:
        """Take the search's lease for ``ttl_s`` seconds of the database's clock.

        Granted when nobody holds it, when the holder's lease has expired, or when ``owner`` already holds it
        (then it is extended). Otherwise :class:`LeaseHeldError` names the holder and until when. One atomic
        upsert decides, so of two drivers racing for a free lease exactly one wins.
        """
        _check_lease_args(owner, ttl_s)
        c = LEASES.c
        with self._transactions.scope(f"acquiring the lease of search {name!r}", write=True) as session:
            search_id = self._search_id(session, name)
            insert = self._insert(LEASES).values(
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
        c = LEASES.c
        with self._transactions.scope(f"renewing the lease of search {name!r}", write=True) as session:
            search_id = self._search_id(session, name)
            statement = (
                update(LEASES)
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
        c = LEASES.c
        with self._transactions.scope(f"taking over the lease of search {name!r}", write=True) as session:
            search_id = self._search_id(session, name)
            row = session.execute(
                update(LEASES)
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
        c = LEASES.c
        with self._transactions.scope(f"releasing the lease of search {name!r}", write=True) as session:
            search_id = self._search_id(session, name)
            result = session.execute(delete(LEASES).where(c.search_id == search_id, c.owner == owner))
            return bool(result.rowcount)

    def lease_of(self, name: str) -> Lease | None:
        """The search's lease row, live or expired, or ``None`` when nobody has held it since its release."""
        c = LEASES.c
        with self._transactions.scope(f"reading the lease of search {name!r}", write=False) as session:
            search_id = self._search_id(session, name)
            row = session.execute(
                select(c.owner, c.acquired_at, c.expires_at).where(c.search_id == search_id)
            ).one_or_none()
            return None if row is None else lease_from_row(name, row)


def _check_lease_args(owner: str, ttl_s: float) -> None:
    if not owner or len(owner) > MAX_OWNER_LENGTH:
        raise StoreError(f"a lease owner must have 1 to {MAX_OWNER_LENGTH} characters, got {owner!r}")
    if not ttl_s > 0:
        raise StoreError(f"a lease's ttl_s must be > 0 seconds, got {ttl_s}")
