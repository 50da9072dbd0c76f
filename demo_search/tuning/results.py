"""A study's outcome as the store keeps it (``db.TuningResult``), and as the export's ``decoding.tuned`` shows it.

Imports no Optuna: ``demo-search status`` and ``export`` read results without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from db import Store, TuningResult
from demo_search.best_set import best_set
from demo_search.exports.model import DecodingSettings, TunedDecoding
from demo_search.tuning.prompt import prompt_key
from demo_search.tuning.study import study_name
from workers.decoding import DecodingParams

if TYPE_CHECKING:
    from demo_search.tuning.tuner import TuningOutcome


def decoding_document(params: DecodingParams) -> dict[str, Any]:
    """``params`` as the export's ``decoding_params`` object."""
    return {
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k,
        "repetition_penalty": params.repetition_penalty,
        "max_tokens": params.max_tokens,
        "stop": list(params.stop),
        "seed": params.seed,
    }


def tuning_result(outcome: TuningOutcome) -> TuningResult:
    """What the store keeps of a study: the best parameters (all of them, tuned or not) and their score."""
    return TuningResult(
        study_name=outcome.study_name,
        demo_ids=outcome.demo_ids,
        params=decoding_document(outcome.best.decoding),
        score=outcome.best.score,
        stderr=outcome.best.stderr,
        baseline_score=outcome.baseline.score if outcome.baseline is not None else None,
        n_trials=outcome.completed,
        importances=dict(outcome.importances.values),
    )


def tuned_for_prompt(store: Store, name: str, rules: str, demo_ids: Sequence[str]) -> TuningResult | None:
    """The stored result of the study of search ``name`` for the prompt of ``rules`` and ``demo_ids``, if any."""
    wanted = study_name(name, prompt_key(rules, demo_ids))
    return next((r for r in reversed(store.tuning_results(name)) if r.study_name == wanted), None)


def export_section(result: TuningResult) -> TunedDecoding:
    """A stored result as the export's ``decoding.tuned`` section."""
    return TunedDecoding(
        params=DecodingSettings.model_validate(dict(result.params)),
        score=result.score,
        baseline_score=result.baseline_score,
        n_trials=result.n_trials,
        importances=dict(result.importances),
    )


def tuned_best_set(store: Store, name: str) -> TunedDecoding | None:
    """The export's ``decoding.tuned`` section for the best set of search ``name``: the stored result of the study
    of exactly that prompt (rules and demonstrations in prompt order), or ``None`` if it was never tuned."""
    best = best_set(store, name)
    if best is None:
        return None
    stored = tuned_for_prompt(store, name, best.rules, best.demo_ids)
    return export_section(stored) if stored is not None else None


__all__ = ["decoding_document", "export_section", "tuned_best_set", "tuned_for_prompt", "tuning_result"]
