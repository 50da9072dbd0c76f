"""Start or continue a search: inputs, the stored search and its fingerprint, the lease, Ray, the driver.

``run_search`` creates the search when its name is new and continues it when it exists (refusing a changed
configuration, naming the keys that differ); ``stored_config`` gives back the configuration a stored search
ran with (``resume`` and ``tune`` start from it). Either way one driver holds the search's lease while it runs.
Running the decoding tuning after a search is ``demo_search.pipeline``'s job.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from db import SearchStatus, Store, StoredItem
from demo_search.assembly import (
    build_problem,
    build_scorer,
    build_strategy,
    context_window,
    decoding_params,
    race_settings,
)
from demo_search.config import SearchConfig, compute_fingerprint, diff_fingerprints, load_stored_config
from demo_search.errors import DemoSearchError
from demo_search.faults import install_commit_failpoint
from demo_search.inputs import SearchInputs, load_inputs, load_tokenizer
from demo_search.scoring.custom import ScorerFunction, identify_custom_scorer
from demo_search.search.budget import Budget
from demo_search.search.cluster import RayOptions, open_dispatcher
from demo_search.search.driver import SearchDriver, SearchOutcome
from demo_search.search.lease import LeaseCheckedDispatcher, hold_lease
from demo_search.search.ledger import NoLedger, open_ledger
from demo_search.search.progress import ProgressSink
from demo_search.search.test_split import open_test_split
from demo_search.types import Demonstration, HeldOutPrompt

logger = logging.getLogger(__name__)


class ResumeRefusedError(DemoSearchError):
    """The stored search cannot be continued with this configuration."""


def run_search(
    config: SearchConfig,
    *,
    progress: ProgressSink | None = None,
    ray_options: RayOptions = RayOptions(),
    scorer_function: ScorerFunction | None = None,
) -> SearchOutcome:
    """Create the search ``config.name`` (or continue it, if its configuration is unchanged) and run it.

    A ``custom`` scorer runs ``scorer_function``, else the function registered under ``scorer.custom.name``; its
    name and version are recorded in the configuration before the fingerprint is taken."""
    install_commit_failpoint()
    config = identify_custom_scorer(config, scorer_function)
    inputs = load_inputs(config, tokenizer=load_tokenizer(config)).raise_if_errors()
    fingerprint = compute_fingerprint(config)
    with Store.open(config.database.url) as store:
        existing = store.find_search(config.name)
        if existing is None:
            store.create_search(
                config.name,
                config=config.stored_form(),
                fingerprint=fingerprint.digest,
                fingerprint_parts=dict(fingerprint.parts),
                rules=inputs.rules,
                fixed_demos=[demo.to_payload() for demo in inputs.fixed],
                pool_items=_stored_items(inputs.candidates),
                heldout_prompts=_stored_items(inputs.heldout.items),
            )
            logger.info("search %r created in %s", config.name, store.url)
        else:
            differs = diff_fingerprints(existing.fingerprint_parts, fingerprint)
            if differs:
                raise ResumeRefusedError(
                    f"refusing to continue search {config.name!r}: its configuration changed",
                    [f"differs: {key}" for key in differs]
                    + ["run it under a new name (--name), or restore the configuration and data it was started with"],
                )
            logger.info("search %r exists (status %s): continuing it", config.name, existing.status.value)
        ledger = open_ledger(store, config, fingerprint)
        return _drive(store, config, inputs, progress, ray_options, scorer_function, ledger)


def stored_config(name: str, database_url: str, overrides: Sequence[str] = ()) -> SearchConfig:
    """The configuration stored with search ``name`` (its database URL set to ``database_url``), with
    ``overrides`` applied."""
    with Store.open(database_url, create=False) as store:
        search = store.get_search(name)
    return load_stored_config(
        search.config,
        source=f"the configuration stored with search {name!r}",
        overrides=[f"database.url={database_url}", *overrides],
    )


def _drive(
    store: Store,
    config: SearchConfig,
    inputs: SearchInputs,
    progress: ProgressSink | None,
    ray_options: RayOptions,
    scorer_function: ScorerFunction | None,
    ledger: NoLedger,
) -> SearchOutcome:
    problem = build_problem(config, inputs, context_window(config))
    scorer = build_scorer(config, scorer_function)
    before = store.get_search(config.name)
    steps_before = len(store.steps(config.name))
    with hold_lease(store, config.name) as check_lease:
        try:
            store.set_status(config.name, SearchStatus.RUNNING)
            with open_dispatcher(config, ray_options) as dispatcher:
                test_split = open_test_split(
                    store, config.name, test_prompts=inputs.test.items if inputs.test else None, problem=problem,
                    every_step=config.data.test_every_step, dispatcher=LeaseCheckedDispatcher(dispatcher, check_lease),
                    scorer=scorer, decoding=decoding_params(config),
                )
                driver = SearchDriver(
                    name=config.name,
                    store=store,
                    dispatcher=LeaseCheckedDispatcher(dispatcher, check_lease),
                    problem=problem,
                    strategy=build_strategy(config.strategy, config.seed),
                    scorer=scorer,
                    decoding=decoding_params(config),
                    max_steps=config.strategy.max_steps,
                    budget=Budget(**config.strategy.budget.model_dump(), judge_price=config.scorer.judge.price),
                    progress=progress,
                    on_failed_candidate=config.strategy.on_failed_candidate,
                    test_split=test_split,
                    racing=race_settings(config, scorer),
                    ledger=ledger,
                )
                outcome = driver.run()
        except (KeyboardInterrupt, SystemExit):
            if before.status is SearchStatus.FINISHED and len(store.steps(config.name)) == steps_before:
                # a re-run of a finished search stopped before it recorded anything: it is as finished as it was
                store.set_status(config.name, SearchStatus.FINISHED, stop_reason=before.stop_reason)
            else:
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


def _stored_items(items: Sequence[Demonstration | HeldOutPrompt]) -> list[StoredItem]:
    return [StoredItem(item_id=item.id, position=i, payload=item.to_payload()) for i, item in enumerate(items)]

