"""The Optuna study of a tuning run, kept in the search's own database, and what is read back from it.

Optuna's RDB storage creates its own tables (and its own ``alembic_version``) in the database the store uses; the
store keeps its revision in ``demo_search_schema_version``, so the two never clash. A study is named
``demo-search:<search>:<prompt key>``, so each prompt tuned for (the best set, or an export's set) has its own.

Resume needs little: the sampler re-reads the history from the storage. What must be done by hand is what a killed
driver leaves behind: trials still ``RUNNING``. The caller holds the search's lease, so no other driver can be
running them; :func:`fail_interrupted_trials` marks them ``FAIL`` and they are sampled (or enqueued) again.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from db import DEFAULT_BUSY_TIMEOUT_S, parse_url
from demo_search.tuning.space import FirstTrial

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

logger = logging.getLogger(__name__)

STUDY_PREFIX = "demo-search"
FIRST_TRIAL_ATTR = "first_trial"
"""User attribute naming an enqueued first trial (``decoding``, ``urial-dense``, ``urial-moe``)."""
MIN_TRIALS_FOR_IMPORTANCE = 2


def study_name(search: str, prompt_key: str) -> str:
    """The study of search ``search`` for the prompt whose key is ``prompt_key``."""
    return f"{STUDY_PREFIX}:{search}:{prompt_key}"


def tpe_sampler(seed: int, startup_trials: int, trials_so_far: int) -> optuna.samplers.TPESampler:
    """A seeded multivariate TPE sampler; parallel trials see each other through the constant liar.

    The seed is offset by the number of trials already in the study, so a resumed run draws new random settings
    instead of repeating the ones its predecessor already drew (and stays reproducible from the stored history).
    """
    import optuna

    return optuna.samplers.TPESampler(
        seed=seed + trials_so_far, n_startup_trials=startup_trials, multivariate=True, constant_liar=True
    )


@contextmanager
def open_study(url: str, name: str, *, seed: int, startup_trials: int) -> Iterator[optuna.Study]:
    """The study ``name`` in the database on ``url`` (created when new), maximising the score.

    Optuna's own INFO logging is quieted while the study is open: the tuner logs every trial itself.
    """
    import optuna

    parsed = parse_url(url)
    engine_kwargs: dict = (
        {"connect_args": {"timeout": DEFAULT_BUSY_TIMEOUT_S}}
        if parsed.get_backend_name() == "sqlite"
        else {"pool_pre_ping": True}
    )
    storage = optuna.storages.RDBStorage(parsed.render_as_string(hide_password=False), engine_kwargs=engine_kwargs)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # its per-trial INFO lines repeat the tuner's own
    try:
        try:
            trials_so_far = storage.get_n_trials(storage.get_study_id_from_name(name))
        except KeyError:  # a new study
            trials_so_far = 0
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            sampler=tpe_sampler(seed, startup_trials, trials_so_far),
            direction="maximize",
            load_if_exists=True,
        )
        yield study
    finally:
        optuna.logging.set_verbosity(verbosity)
        storage.engine.dispose()


def fail_interrupted_trials(study: optuna.Study) -> list[int]:
    """Mark the trials a dead driver left ``RUNNING`` as ``FAIL``; returns their numbers.

    Only call this while holding the search's lease: then no live driver can be running them.
    """
    from optuna.trial import TrialState

    numbers = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]
    for number in numbers:
        study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
    if numbers:
        logger.warning("study %s: trial(s) %s were running when their driver died; marked failed, they run again",
                       study.study_name, ", ".join(map(str, numbers)))
    return numbers


def enqueue_first_trials(study: optuna.Study, first: Sequence[FirstTrial]) -> list[str]:
    """Enqueue each first trial that has neither completed nor is waiting to run; returns their labels.

    A first trial that failed (e.g. its driver died while it ran) is enqueued again.
    """
    from optuna.trial import TrialState

    settled = {
        t.user_attrs.get(FIRST_TRIAL_ATTR)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.WAITING))
    }
    labels = []
    for trial in first:
        if trial.label not in settled:
            study.enqueue_trial(dict(trial.params), user_attrs={FIRST_TRIAL_ATTR: trial.label})
            labels.append(trial.label)
    return labels


def completed_trials(study: optuna.Study) -> list[FrozenTrial]:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The completed trial with the highest score; on a tie the earliest (so a first trial wins ties)."""
    completed = completed_trials(study)
    return min(completed, key=lambda t: (-t.value, t.number)) if completed else None


def trial_with_label(study: optuna.Study, label: str) -> FrozenTrial | None:
    """The completed first trial labelled ``label`` (the earliest, should it have completed twice)."""
    matching = [t for t in completed_trials(study) if t.user_attrs.get(FIRST_TRIAL_ATTR) == label]
    return min(matching, key=lambda t: t.number) if matching else None


@dataclass(frozen=True)
class Importances:
    """Optuna's parameter importances (PED-ANOVA), or why there are none; ``note`` also carries Optuna's caveat
    when it computed them from too few trials."""

    values: dict[str, float] = field(default_factory=dict)
    note: str | None = None


def param_importances(study: optuna.Study) -> Importances:
    """The importance of each tuned parameter for the score, from the completed trials.

    PED-ANOVA (Optuna's own, no scikit-learn needed; deterministic) compares the parameters' distributions in the
    best trials with their distributions in all completed ones.
    """
    import optuna

    completed = completed_trials(study)
    if len(completed) < MIN_TRIALS_FOR_IMPORTANCE:
        return Importances(note=f"{len(completed)} completed trial(s); importances need at least "
                                f"{MIN_TRIALS_FOR_IMPORTANCE}")
    if len({t.value for t in completed}) == 1:
        return Importances(note=f"every completed trial scored {completed[0].value:g}: no parameter matters here")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            values = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.PedAnovaImportanceEvaluator()
            )
        except (ValueError, RuntimeError) as error:
            return Importances(note=f"Optuna could not compute importances: {error}")
    finite = {name: float(value) for name, value in values.items() if math.isfinite(value)}
    if not finite:
        return Importances(note="no parameter varied across the completed trials")
    caveat = next((str(w.message) for w in caught if issubclass(w.category, UserWarning)), None)
    return Importances(values=finite, note=f"approximate: {caveat}" if caveat else None)


__all__ = [
    "FIRST_TRIAL_ATTR",
    "Importances",
    "best_trial",
    "completed_trials",
    "enqueue_first_trials",
    "fail_interrupted_trials",
    "open_study",
    "param_importances",
    "study_name",
    "tpe_sampler",
    "trial_with_label",
]
