"""Conversions between table rows and :mod:`db.records` values (the store never hands out rows)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from db.errors import StoreError
from db.records import Candidate, CandidateStatus, Evaluation, Lease, Search, SearchStatus, Step, TuningResult


def checked_json(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``value`` as a dict, after checking that it is JSON (finite numbers, string keys) as both backends need."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} is not storable as JSON: {exc}") from exc
    return dict(value)


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (SQLite returns naive datetimes, which are UTC by construction)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def search_from_row(row: Any) -> Search:
    return Search(
        id=row.id,
        name=row.name,
        config=row.config,
        fingerprint=row.fingerprint,
        fingerprint_parts=row.fingerprint_parts,
        rules=row.rules,
        fixed_demos=tuple(row.fixed_demos),
        status=SearchStatus(row.status),
        stop_reason=row.stop_reason,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        finished_at=None if row.finished_at is None else as_utc(row.finished_at),
    )


def storable_text(text: str | None) -> str | None:
    """``text`` with NUL characters replaced by U+FFFD: PostgreSQL text cannot hold NUL, and both backends must
    store the same (a model sampling hot can emit the byte)."""
    return None if text is None else text.replace("\x00", "\ufffd")


def evaluation_to_row(search_id: int, evaluation: Evaluation) -> dict[str, Any]:
    detail = evaluation.detail
    where = f"the detail of evaluation ({evaluation.set_key}, {evaluation.prompt_id})"
    return {
        "search_id": search_id,
        "set_key": evaluation.set_key,
        "prompt_id": evaluation.prompt_id,
        "score": evaluation.score,
        "output": storable_text(evaluation.output),
        "detail": None if detail is None else checked_json(detail, where),
        "prompt_tokens": evaluation.prompt_tokens,
        "computed_tokens": evaluation.computed_tokens,
        "cached_tokens": evaluation.cached_tokens,
        "error": storable_text(evaluation.error),
        "reused": evaluation.reused,
    }


def evaluation_from_row(row: Any) -> Evaluation:
    return Evaluation(
        set_key=row.set_key,
        prompt_id=row.prompt_id,
        score=row.score,
        output=row.output,
        detail=row.detail,
        prompt_tokens=row.prompt_tokens,
        computed_tokens=row.computed_tokens,
        cached_tokens=row.cached_tokens,
        error=row.error,
        created_at=as_utc(row.created_at),
        reused=row.reused,
    )


def candidate_from_row(row: Any) -> Candidate:
    return Candidate(
        step_index=row.step_index,
        set_key=row.set_key,
        demo_ids=tuple(row.demo_ids),
        added_item_id=row.added_item_id,
        status=CandidateStatus(row.status),
        score=row.score,
        stderr=row.stderr,
        n_scored=row.n_scored,
        reason=row.reason,
    )


def step_from_row(row: Any) -> Step:
    return Step(
        step_index=row.step_index,
        set_key=row.set_key,
        item_id=row.item_id,
        score=row.score,
        stderr=row.stderr,
        runner_up_set_key=row.runner_up_set_key,
        runner_up_item_id=row.runner_up_item_id,
        runner_up_score=row.runner_up_score,
        racing=row.racing,
        created_at=as_utc(row.created_at),
    )


def lease_from_row(name: str, row: Any) -> Lease:
    return Lease(search=name, owner=row.owner, acquired_at=as_utc(row.acquired_at), expires_at=as_utc(row.expires_at))


def tuning_result_from_row(row: Any) -> TuningResult:
    return TuningResult(
        study_name=row.study_name,
        demo_ids=tuple(row.demo_ids),
        params=row.params,
        score=row.score,
        stderr=row.stderr,
        baseline_score=row.baseline_score,
        n_trials=row.n_trials,
        importances=row.importances,
        updated_at=as_utc(row.updated_at),
    )
