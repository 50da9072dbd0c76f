"""SQLAlchemy models of the store's tables.

These classes are the schema as of the newest migration (``db/migrations/versions``); a test compares them with
the migrated database, so a change here needs a new migration. They stay inside ``db``: the store returns
:mod:`db.records` values, never these rows.

Keys: a search has an integer id; pool items and held-out prompts are content-addressed by the caller's hash
within a search; candidates are keyed by (step, set key); evaluations by (set key, prompt), not by step, so a
search resumed after a crash finds every pair evaluated before it, whatever step it was evaluated for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from db.clock import utc_now
from db.records import (
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    MAX_OWNER_LENGTH,
    MAX_STUDY_NAME_LENGTH,
    CandidateStatus,
    SearchStatus,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = MAX_ID_LENGTH


def _one_of(column: str, enum: type[SearchStatus] | type[CandidateStatus]) -> str:
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SearchRow(Base):
    __tablename__ = "searches"
    __table_args__ = (CheckConstraint(_one_of("status", SearchStatus), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(ID_LENGTH))
    fingerprint_parts: Mapped[dict[str, str]] = mapped_column(JSON)
    rules: Mapped[str] = mapped_column(Text, default="")
    fixed_demos: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16))
    stop_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class _ContentItem:
    """Columns shared by pool items and held-out prompts."""

    search_id: Mapped[int] = mapped_column(ForeignKey("searches.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class PoolItemRow(_ContentItem, Base):
    __tablename__ = "pool_items"
    __table_args__ = (UniqueConstraint("search_id", "position"),)


class HeldoutPromptRow(_ContentItem, Base):
    __tablename__ = "heldout_prompts"
    __table_args__ = (UniqueConstraint("search_id", "position"),)


class StepCandidateRow(Base):
    __tablename__ = "step_candidates"
    __table_args__ = (
        ForeignKeyConstraint(
            ["search_id", "added_item_id"], ["pool_items.search_id", "pool_items.item_id"], ondelete="CASCADE"
        ),
        CheckConstraint(_one_of("status", CandidateStatus), name="status"),
    )

    search_id: Mapped[int] = mapped_column(ForeignKey("searches.id", ondelete="CASCADE"), primary_key=True)
    step_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    set_key: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    demo_ids: Mapped[list[str]] = mapped_column(JSON)
    added_item_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)
    stderr: Mapped[float | None] = mapped_column(Float)
    n_scored: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now())


class StepRow(Base):
    __tablename__ = "steps"
    __table_args__ = (
        ForeignKeyConstraint(
            ["search_id", "step_index", "set_key"],
            ["step_candidates.search_id", "step_candidates.step_index", "step_candidates.set_key"],
            ondelete="CASCADE",
        ),
    )

    search_id: Mapped[int] = mapped_column(ForeignKey("searches.id", ondelete="CASCADE"), primary_key=True)
    step_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    set_key: Mapped[str] = mapped_column(String(ID_LENGTH))
    item_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    score: Mapped[float] = mapped_column(Float)
    stderr: Mapped[float | None] = mapped_column(Float)
    runner_up_set_key: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    runner_up_item_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    runner_up_score: Mapped[float | None] = mapped_column(Float)
    racing: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now())


class _EvaluationColumns:
    """Columns shared by held-out evaluations and test evaluations (keyed by set key and prompt)."""

    search_id: Mapped[int] = mapped_column(ForeignKey("searches.id", ondelete="CASCADE"), primary_key=True)
    set_key: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    prompt_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    score: Mapped[float | None] = mapped_column(Float)
    output: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    computed_tokens: Mapped[int] = mapped_column(Integer)
    cached_tokens: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now())
    reused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Served from the evaluation ledger (computed before, by this or another search), not computed (0005)."""


class LedgerRow(Base):
    """A computed evaluation by its content key (added by revision 0005): what any search or trial with the same
    key reuses instead of computing it again."""

    __tablename__ = "ledger"

    content_key: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    score: Mapped[float | None] = mapped_column(Float)
    output: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now())


class EvaluationRow(_EvaluationColumns, Base):
    __tablename__ = "evaluations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["search_id", "prompt_id"], ["heldout_prompts.search_id", "heldout_prompts.item_id"], ondelete="CASCADE"
        ),
    )


class TestPromptRow(_ContentItem, Base):
    """The test prompts of a search (``data.test``; added by revision 0003): never used for selection."""

    __tablename__ = "test_prompts"
    __table_args__ = (UniqueConstraint("search_id", "position"),)


class TestEvaluationRow(_EvaluationColumns, Base):
    """The evaluations of a search's chosen sets on its test prompts (added by revision 0003)."""

    __tablename__ = "test_evaluations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["search_id", "prompt_id"], ["test_prompts.search_id", "test_prompts.item_id"], ondelete="CASCADE"
        ),
    )


class LeaseRow(Base):
    __tablename__ = "leases"

    search_id: Mapped[int] = mapped_column(ForeignKey("searches.id", ondelete="CASCADE"), primary_key=True)
    owner: Mapped[str] = mapped_column(String(MAX_OWNER_LENGTH))
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TuningResultRow(Base):
    """The best decoding parameters of one tuning study of a search (added by revision 0002)."""

    __tablename__ = "tuning_results"

    search_id: Mapped[int] = mapped_column(ForeignKey("searches.id", ondelete="CASCADE"), primary_key=True)
    study_name: Mapped[str] = mapped_column(String(MAX_STUDY_NAME_LENGTH), primary_key=True)
    demo_ids: Mapped[list[str]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    score: Mapped[float] = mapped_column(Float)
    stderr: Mapped[float | None] = mapped_column(Float)
    baseline_score: Mapped[float | None] = mapped_column(Float)
    n_trials: Mapped[int] = mapped_column(Integer)
    importances: Mapped[dict[str, float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now())
