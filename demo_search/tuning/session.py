"""Start or continue a tuning study: configuration, prompt, scorer, the search's lease, Ray, the dispatcher, the tuner.

``tune_search`` tunes a stored search (``demo-search tune NAME``) with the configuration stored with it, changed
only in ``tuning.*`` keys; ``tune_after_search`` is what ``demo_search.pipeline`` calls after a search when
``tuning.enabled``. Either way the
tuning driver holds the search's lease while it runs, so a search and its tuning never run at once, and the
best parameters are recorded on the search when the study holds its ``n_trials`` completed trials.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from db import Store
from demo_search.assembly import build_scorer, build_template, context_window, decoding_params
from demo_search.config import SearchConfig
from demo_search.inputs import load_tokenizer
from demo_search.scoring.custom import ScorerFunction
from demo_search.search.cluster import RayOptions, open_dispatcher
from demo_search.search.lease import LeaseCheck, LeaseCheckedDispatcher, hold_lease
from demo_search.search.ledger import NoLedger, open_ledger
from demo_search.search.session import stored_config
from demo_search.tuning.errors import DecodingIrrelevantError, TuningError
from demo_search.tuning.objective import TrialObjective
from demo_search.tuning.prompt import TuningPrompt, best_set_prompt, export_prompt
from demo_search.tuning.results import tuning_result
from demo_search.tuning.space import SearchSpace
from demo_search.tuning.study import open_study, study_name
from demo_search.tuning.tuner import DecodingTuner, TuningOutcome, TuningProgress

logger = logging.getLogger(__name__)

TUNING_KEYS = "tuning."
DEFAULT_PARALLEL_TRIALS = 4  # trials at once when workers.count is auto (a fixed number keeps studies reproducible)


def tune_search(
    name: str,
    database_url: str,
    *,
    overrides: Sequence[str] = (),
    from_export: Path | None = None,
    progress: TuningProgress | None = None,
    ray_options: RayOptions = RayOptions(),
) -> TuningOutcome:
    """Tune the decoding parameters of search ``name``'s best set (or of the set in the export ``from_export``).

    ``overrides`` (``key=value``) may change ``tuning.*`` keys of the stored configuration, nothing else.
    """
    others = [override for override in overrides if not override.strip().startswith(TUNING_KEYS)]
    if others:
        raise TuningError(
            "only tuning.* keys of a stored search can be changed when tuning it",
            [f"--set {override}: not a tuning key (the rest of the configuration is what the search ran with)"
             for override in others],
        )
    return _tune(stored_config(name, database_url, overrides), from_export, progress, ray_options)


def tune_after_search(
    config: SearchConfig,
    *,
    progress: TuningProgress | None = None,
    ray_options: RayOptions = RayOptions(),
    scorer_function: ScorerFunction | None = None,
) -> TuningOutcome:
    """Tune the decoding parameters of the best set of the search ``config`` has just run (a ``custom`` scorer runs
    ``scorer_function`` when given)."""
    return _tune(config, None, progress, ray_options, scorer_function)


def _tune(
    config: SearchConfig,
    from_export: Path | None,
    progress: TuningProgress | None,
    ray_options: RayOptions,
    scorer_function: ScorerFunction | None = None,
) -> TuningOutcome:
    if not config.scorer.generates:
        raise DecodingIrrelevantError(
            f"search {config.name!r} scores with {config.scorer.kind!r}: decoding parameters do not matter",
            ["loglik scores the log-probability of the reference answers and generates nothing, so no decoding "
             "parameter can change a score; tuning needs a generating scorer (match, judge, reward or custom)"],
        )
    tokenizer = load_tokenizer(config)
    template = build_template(config, tokenizer)
    seed = config.tuning.seed if config.tuning.seed is not None else config.seed
    space = SearchSpace.from_config(config.tuning.ranges, decoding_params(config))
    with Store.open(config.database.url, create=False) as store:
        prompt = _prompt(store, config, from_export)
        scorer = build_scorer(config, scorer_function)
        try:
            objective = TrialObjective(prompt.tree(template, tokenizer), template, scorer, prompt.prompts_by_id)
            objective.check_fits(context_window(config), space.longest_answer)
            name = study_name(config.name, prompt.key)
            logger.info("tuning %s for %s on %d held-out prompt(s): study %s",
                        ", ".join(space.names), prompt.origin, len(prompt.heldout), name)
            with hold_lease(store, config.name) as check_lease:
                ledger = open_ledger(store, config)
                outcome = _run_study(config, name, prompt, space, objective, seed, check_lease, progress, ray_options,
                                     ledger)
                store.record_tuning_result(config.name, tuning_result(outcome))
        finally:
            scorer.close()
    return outcome


def _run_study(
    config: SearchConfig,
    name: str,
    prompt: TuningPrompt,
    space: SearchSpace,
    objective: TrialObjective,
    seed: int,
    check_lease: LeaseCheck,
    progress: TuningProgress | None,
    ray_options: RayOptions,
    ledger: NoLedger,
) -> TuningOutcome:
    from optuna.exceptions import StorageInternalError

    tuning = config.tuning
    workers = config.workers.count
    try:
        with open_study(config.database.url, name, seed=seed, startup_trials=tuning.startup_trials) as study:
            tuner = DecodingTuner(
                study=study,
                space=space,
                objective=objective,
                dispatcher=lambda: LeaseCheckedDispatcher(open_dispatcher(config, ray_options), check_lease),
                n_trials=tuning.n_trials,
                parallel_trials=tuning.parallel_trials or (DEFAULT_PARALLEL_TRIALS if workers == "auto" else workers),
                first_trials=space.first_trials(urial_settings=tuning.urial_settings),
                progress=progress,
                ledger=ledger,
            )
            return tuner.run(demo_ids=prompt.demo_ids, origin=prompt.origin)
    except StorageInternalError as error:
        raise TuningError(
            f"the Optuna study {name} in {config.database.display_url()} could not be read or written",
            [f"{error}: {error.__cause__}" if error.__cause__ else str(error)],
        ) from error


def _prompt(store: Store, config: SearchConfig, from_export: Path | None) -> TuningPrompt:
    if from_export is None:
        return best_set_prompt(store, config.name)
    try:
        document = json.loads(from_export.read_text(encoding="utf-8"))
    except OSError as error:
        raise TuningError(f"cannot read the export {from_export}", [error.strerror or str(error)]) from None
    except json.JSONDecodeError as error:
        raise TuningError(
            f"{from_export} is not JSON", [f"{from_export}:{error.lineno}:{error.colno}: {error.msg}"]
        ) from None
    if not isinstance(document, dict):
        raise TuningError(f"{from_export} is not an export document", ["expected a JSON object at the top level"])
    exported_model = document.get("model", {}).get("path") if isinstance(document.get("model"), dict) else None
    if exported_model is not None and exported_model != config.model.path:
        logger.warning("%s was exported for model %s; tuning it on search %r's model %s",
                       from_export, exported_model, config.name, config.model.path)
    return export_prompt(document, store, config.name, source=str(from_export))


__all__ = ["tune_after_search", "tune_search"]
