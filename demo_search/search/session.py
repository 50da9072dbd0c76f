"""Start or resume a search: inputs, the stored search and its fingerprint, the lease, Ray, the driver.

``run_search`` creates the search when its name is new and continues it when it exists (refusing a changed
configuration, naming the keys that differ); ``resume_search`` continues a stored search from the
configuration stored with it. Either way one driver holds the search's lease while it runs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import yaml

from db import LeaseHeldError, SearchStatus, Store, StoredItem, default_lease_owner
from demo_search.config import SearchConfig, diff_fingerprints, load_config_text
from demo_search.errors import DemoSearchError
from demo_search.faults import install_commit_failpoint
from demo_search.inputs import SearchInputs, load_inputs, load_tokenizer
from demo_search.search.cluster import RayOptions, open_dispatcher
from demo_search.search.components import build_scorer, build_strategy, build_template, context_window
from demo_search.search.driver import Budget, SearchDriver, SearchOutcome
from demo_search.search.problem import SearchProblem
from demo_search.search.progress import ProgressSink
from demo_search.types import Demonstration, HeldOutPrompt

logger = logging.getLogger(__name__)

LEASE_TTL_S = 60.0


class ResumeRefusedError(DemoSearchError):
    """The stored search cannot be continued with this configuration."""


def run_search(
    config: SearchConfig, *, progress: ProgressSink | None = None, ray_options: RayOptions = RayOptions()
) -> SearchOutcome:
    """Create the search ``config.name`` (or continue it, if its configuration is unchanged) and run it; then,
    with ``tuning.enabled``, tune the decoding parameters of its best set (``demo_search.tuning``)."""
    install_commit_failpoint()
    inputs = load_inputs(config, tokenizer=load_tokenizer(config)).raise_if_errors()
    fingerprint = config.fingerprint()
    with Store.open(config.database.url) as store:
        existing = store.find_search(config.name)
        if existing is None:
            store.create_search(
                config.name,
                config=yaml.safe_load(config.to_yaml()),
                fingerprint=fingerprint.digest,
                fingerprint_parts=dict(fingerprint.parts),
                rules=inputs.rules,
                fixed_demos=[_payload(demo) for demo in inputs.fixed],
            )
            store.add_pool_items(config.name, _stored_items(inputs.candidates))
            store.add_heldout_prompts(config.name, _stored_items(inputs.heldout.items))
            logger.info("search %r created in %s", config.name, store.url)
        else:
            differs = diff_fingerprints(existing.fingerprint_parts, fingerprint.parts)
            if differs:
                raise ResumeRefusedError(
                    f"refusing to continue search {config.name!r}: its configuration changed",
                    [f"differs: {key}" for key in differs]
                    + ["run it under a new name (--name), or restore the configuration and data it was started with"],
                )
            logger.info("search %r exists (status %s): continuing it", config.name, existing.status.value)
        outcome = _drive(store, config, inputs, progress, ray_options)
    if config.tuning.enabled:
        from demo_search.tuning.session import tune_after_search

        tune_after_search(config, ray_options=ray_options)
    return outcome


def resume_search(
    name: str, database_url: str, *, progress: ProgressSink | None = None, ray_options: RayOptions = RayOptions()
) -> SearchOutcome:
    """Continue the stored search ``name`` with the configuration stored with it."""
    with Store.open(database_url, create=False) as store:
        search = store.get_search(name)
    text = yaml.safe_dump(dict(search.config), sort_keys=False, allow_unicode=True)
    config = load_config_text(
        text, source=f"the configuration stored with search {name!r}", overrides=[f"database.url={database_url}"]
    )
    return run_search(config, progress=progress, ray_options=ray_options)


def _drive(
    store: Store, config: SearchConfig, inputs: SearchInputs, progress: ProgressSink | None, ray_options: RayOptions
) -> SearchOutcome:
    problem = SearchProblem(
        template=build_template(config, inputs.tokenizer),
        tokenizer=inputs.tokenizer,
        rules=inputs.rules,
        fixed=inputs.fixed,
        pool=inputs.candidates,
        prompts=inputs.heldout.items,
        position=config.template.position,
        max_context=context_window(config),
    )
    scorer = build_scorer(config)
    decoding = config.to_decoding_params()
    stop = tuple(dict.fromkeys((*decoding.stop, *problem.template.stop_strings)))
    decoding = dataclasses.replace(decoding, stop=stop)
    with hold_lease(store, config.name) as check_lease:
        store.set_status(config.name, SearchStatus.RUNNING)
        try:
            with open_dispatcher(config, ray_options) as dispatcher:
                driver = SearchDriver(
                    name=config.name,
                    store=store,
                    dispatcher=_LeaseCheckedDispatcher(dispatcher, check_lease),
                    problem=problem,
                    strategy=build_strategy(config),
                    scorer=scorer,
                    decoding=decoding,
                    max_steps=config.strategy.max_steps,
                    min_delta=config.strategy.min_delta,
                    budget=Budget(**config.strategy.budget.model_dump()),
                    progress=progress,
                )
                outcome = driver.run()
        except KeyboardInterrupt:
            store.set_status(config.name, SearchStatus.INTERRUPTED)
            raise
        except BaseException:
            store.set_status(config.name, SearchStatus.FAILED)
            raise
        finally:
            scorer.close()
        store.set_status(config.name, SearchStatus.FINISHED, stop_reason=outcome.stop_reason)
    logger.info("search %r finished: %s", config.name, outcome.stop_reason)
    return outcome


class _LeaseCheckedDispatcher:
    """Checks that this driver still holds the lease before handing on each unit's result."""

    def __init__(self, dispatcher, check: Callable[[], None]) -> None:
        self._dispatcher = dispatcher
        self._check = check

    def run(self, units):
        results = self._dispatcher.run(units)
        try:
            for result in results:
                self._check()
                yield result
        finally:
            results.close()


@contextmanager
def hold_lease(store: Store, name: str) -> Iterator[Callable[[], None]]:
    """Hold the search's lease, renewed in the background; yields a check that raises once it is lost."""
    owner = default_lease_owner()
    try:
        store.acquire_lease(name, owner, LEASE_TTL_S)
    except LeaseHeldError as held:
        if not _holder_is_dead(held.owner):
            raise
        logger.warning("the lease holder %s is no longer running on this host: taking the lease over", held.owner)
        store.take_over_lease(name, held.owner, owner, LEASE_TTL_S)
    lost: list[BaseException] = []
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(LEASE_TTL_S / 3):
            try:
                store.renew_lease(name, owner, LEASE_TTL_S)
            except Exception as error:  # noqa: BLE001 - reported to the driver through check()
                lost.append(error)
                return

    def check() -> None:
        if lost:
            raise lost[0]

    thread = threading.Thread(target=renew, name=f"lease-{name}", daemon=True)
    thread.start()
    try:
        yield check
    finally:
        stop.set()
        thread.join()
        store.release_lease(name, owner)


def _holder_is_dead(owner: str) -> bool:
    """Whether ``owner`` (``host:pid:tag``) names a process of this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _stored_items(items: Sequence[Demonstration | HeldOutPrompt]) -> list[StoredItem]:
    return [StoredItem(item_id=item.id, position=i, payload=_payload(item)) for i, item in enumerate(items)]


def _payload(item: Demonstration | HeldOutPrompt) -> dict:
    return dataclasses.asdict(item)
