"""Initial schema: searches, their pool and held-out items, candidates, steps, evaluations and leases.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Tables added by later features (e.g. decoding-tuning results) come as later revisions that revise this one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=128)
TIMESTAMP = sa.DateTime(timezone=True)


def _search_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["search_id"], ["searches.id"], name=op.f(f"fk_{table}_search_id_searches"), ondelete="CASCADE"
    )


def _content_items(table: str) -> None:
    op.create_table(
        table,
        sa.Column("search_id", sa.Integer(), nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _search_fk(table),
        sa.PrimaryKeyConstraint("search_id", "item_id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("search_id", "position", name=op.f(f"uq_{table}_search_id_position")),
    )


def upgrade() -> None:
    op.create_table(
        "searches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("fingerprint", ID, nullable=False),
        sa.Column("fingerprint_parts", sa.JSON(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("fixed_demos", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "status IN ('created', 'running', 'interrupted', 'finished', 'failed')", name=op.f("ck_searches_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_searches")),
        sa.UniqueConstraint("name", name=op.f("uq_searches_name")),
    )
    _content_items("pool_items")
    _content_items("heldout_prompts")
    op.create_table(
        "step_candidates",
        sa.Column("search_id", sa.Integer(), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("set_key", ID, nullable=False),
        sa.Column("demo_ids", sa.JSON(), nullable=False),
        sa.Column("added_item_id", ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("stderr", sa.Float(), nullable=True),
        sa.Column("n_scored", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("status IN ('scored', 'skipped', 'failed')", name=op.f("ck_step_candidates_status")),
        sa.ForeignKeyConstraint(
            ["search_id", "added_item_id"],
            ["pool_items.search_id", "pool_items.item_id"],
            name=op.f("fk_step_candidates_search_id_added_item_id_pool_items"),
            ondelete="CASCADE",
        ),
        _search_fk("step_candidates"),
        sa.PrimaryKeyConstraint("search_id", "step_index", "set_key", name=op.f("pk_step_candidates")),
    )
    op.create_table(
        "steps",
        sa.Column("search_id", sa.Integer(), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("set_key", ID, nullable=False),
        sa.Column("item_id", ID, nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("stderr", sa.Float(), nullable=True),
        sa.Column("runner_up_set_key", ID, nullable=True),
        sa.Column("runner_up_item_id", ID, nullable=True),
        sa.Column("runner_up_score", sa.Float(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["search_id", "step_index", "set_key"],
            ["step_candidates.search_id", "step_candidates.step_index", "step_candidates.set_key"],
            name=op.f("fk_steps_search_id_step_index_set_key_step_candidates"),
            ondelete="CASCADE",
        ),
        _search_fk("steps"),
        sa.PrimaryKeyConstraint("search_id", "step_index", name=op.f("pk_steps")),
    )
    op.create_table(
        "evaluations",
        sa.Column("search_id", sa.Integer(), nullable=False),
        sa.Column("set_key", ID, nullable=False),
        sa.Column("prompt_id", ID, nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("computed_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["search_id", "prompt_id"],
            ["heldout_prompts.search_id", "heldout_prompts.item_id"],
            name=op.f("fk_evaluations_search_id_prompt_id_heldout_prompts"),
            ondelete="CASCADE",
        ),
        _search_fk("evaluations"),
        sa.PrimaryKeyConstraint("search_id", "set_key", "prompt_id", name=op.f("pk_evaluations")),
    )
    op.create_table(
        "leases",
        sa.Column("search_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("acquired_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        _search_fk("leases"),
        sa.PrimaryKeyConstraint("search_id", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    for table in ("leases", "evaluations", "steps", "step_candidates", "heldout_prompts", "pool_items", "searches"):
        op.drop_table(table)
