"""Leases: one live driver per search, stamped and expired by the database's clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from store_testing import expire_lease

from db import LeaseHeldError, LeaseLostError, LeaseOwner, Search, Store, StoreError


def test_a_live_lease_is_refused_to_another_owner_with_who_and_until_when(store: Store, search: Search) -> None:
    held = store.acquire_lease("demo", "node-1:4242:aa", ttl_s=3600)

    with pytest.raises(LeaseHeldError) as refused:
        store.acquire_lease("demo", "node-2:77:bb", ttl_s=60)

    error = refused.value
    assert (error.search, error.owner, error.expires_at) == ("demo", "node-1:4242:aa", held.expires_at)
    assert 0 < error.remaining_s <= 3600
    assert str(error).startswith(
        f"search 'demo' is being run by node-1:4242:aa (lease until {held.expires_at:%Y-%m-%dT%H:%M:%S}Z"
    )
    assert store.lease_of("demo") == held


def test_lease_times_are_utc_with_sub_second_precision(store: Store, search: Search) -> None:
    before = datetime.now(UTC)
    lease = store.acquire_lease("demo", "me", ttl_s=90.25)
    after = datetime.now(UTC)

    assert lease.acquired_at.utcoffset() == timedelta(0)
    assert (lease.expires_at - lease.acquired_at).total_seconds() == pytest.approx(90.25, abs=0.002)
    # the server runs on this machine here, so its clock and ours agree to within the call
    assert before - timedelta(seconds=1) <= lease.acquired_at <= after + timedelta(seconds=1)


def test_an_expired_lease_is_granted_to_a_new_owner(store: Store, search: Search, database_url: str) -> None:
    store.acquire_lease("demo", "crashed-driver", ttl_s=3600)
    expire_lease(database_url, "demo")

    taken = store.acquire_lease("demo", "new-driver", ttl_s=60)

    assert taken.owner == "new-driver"
    with pytest.raises(LeaseLostError, match="crashed-driver no longer holds the lease .* held by new-driver"):
        store.renew_lease("demo", "crashed-driver", ttl_s=60)
    assert store.release_lease("demo", "crashed-driver") is False
    assert store.lease_of("demo") == taken


def test_the_same_owner_re_acquires_and_renews(store: Store, search: Search) -> None:
    # each TTL is longer than the one before, so each expiry is later however long the calls take
    first = store.acquire_lease("demo", "me", ttl_s=600)
    again = store.acquire_lease("demo", "me", ttl_s=1200)
    renewed = store.renew_lease("demo", "me", ttl_s=2400)

    assert again.acquired_at == first.acquired_at  # still the same tenure
    assert first.expires_at < again.expires_at < renewed.expires_at
    assert renewed.acquired_at == first.acquired_at


def test_the_same_owner_re_acquires_its_expired_lease_when_nobody_took_it(
    store: Store, search: Search, database_url: str
) -> None:
    first = store.acquire_lease("demo", "me", ttl_s=600)
    expire_lease(database_url, "demo")

    again = store.acquire_lease("demo", "me", ttl_s=600)

    assert again.owner == "me" and again.acquired_at == first.acquired_at
    with pytest.raises(LeaseHeldError):  # live again
        store.acquire_lease("demo", "other", ttl_s=60)


def test_a_released_lease_is_free_and_cannot_be_renewed(store: Store, search: Search) -> None:
    store.acquire_lease("demo", "me", ttl_s=60)

    assert store.release_lease("demo", "me") is True
    assert store.lease_of("demo") is None
    with pytest.raises(LeaseLostError, match="nobody holds it"):
        store.renew_lease("demo", "me", ttl_s=60)
    assert store.acquire_lease("demo", "someone-else", ttl_s=60).owner == "someone-else"


def test_drivers_racing_for_a_free_lease_produce_exactly_one_holder(
    store: Store, search: Search, database_url: str
) -> None:
    contenders = 6
    barrier = threading.Barrier(contenders)
    winners: list[str] = []
    refusals: list[str] = []
    failures: list[BaseException] = []

    def contend(index: int) -> None:
        owner = f"driver-{index}"
        with Store.open(database_url) as own_store:  # its own engine, like another process
            barrier.wait()
            try:
                own_store.acquire_lease("demo", owner, ttl_s=60)
                winners.append(owner)
            except LeaseHeldError as refused:
                refusals.append(refused.owner)
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)

    threads = [threading.Thread(target=contend, args=(index,)) for index in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert len(winners) == 1
    assert refusals == winners * (contenders - 1)
    assert store.lease_of("demo").owner == winners[0]


def test_lease_arguments_are_checked(store: Store, search: Search) -> None:
    with pytest.raises(StoreError, match="ttl_s must be > 0 seconds, got 0"):
        store.acquire_lease("demo", "me", ttl_s=0)
    with pytest.raises(StoreError, match="lease owner must have 1 to 255 characters"):
        store.acquire_lease("demo", "", ttl_s=10)
    owner = str(LeaseOwner.current())
    assert owner.count(":") == 2
    assert store.acquire_lease("demo", owner, ttl_s=10).owner == owner


def test_a_dead_holders_lease_is_taken_over_by_exactly_one_driver(store: Store, search: Search) -> None:
    store.acquire_lease("demo", "host:1:dead", ttl_s=60)

    taken = store.take_over_lease("demo", "host:1:dead", "host:2:new", ttl_s=60)

    assert taken.owner == "host:2:new" and store.lease_of("demo") == taken
    with pytest.raises(LeaseHeldError) as refused:
        store.take_over_lease("demo", "host:1:dead", "host:3:late", ttl_s=60)
    assert refused.value.owner == "host:2:new"
    store.release_lease("demo", "host:2:new")
    with pytest.raises(LeaseLostError, match="no lease held by host:1:dead"):
        store.take_over_lease("demo", "host:1:dead", "host:3:late", ttl_s=60)
