"""The test split: a search's test prompts and the evaluations of its chosen sets on them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Test prompts (``data.test``) are never used for selection, so they and their evaluations live in tables of their
own: the held-out ``evaluations`` that candidates are ranked on hold no test pair, whatever a query forgets to
filter. ``test_evaluations`` has the columns of ``evaluations``, keyed the same way, (set key, prompt).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=128)
TIMESTAMP = sa.DateTime(timezone=True)


def _search_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["search_id"], ["searches.id"], name=op.f(f"fk_{table}_search_id_searches"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "test_prompts",
        sa.Column("search_id", sa.Integer(), nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _search_fk("test_prompts"),
        sa.PrimaryKeyConstraint("search_id", "item_id", name=op.f("pk_test_prompts")),
        sa.UniqueConstraint("search_id", "position", name=op.f("uq_test_prompts_search_id_position")),
    )
    op.create_table(
        "test_evaluations",
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
            ["test_prompts.search_id", "test_prompts.item_id"],
            name=op.f("fk_test_evaluations_search_id_prompt_id_test_prompts"),
            ondelete="CASCADE",
        ),
        _search_fk("test_evaluations"),
        sa.PrimaryKeyConstraint("search_id", "set_key", "prompt_id", name=op.f("pk_test_evaluations")),
    )


def downgrade() -> None:
    op.drop_table("test_evaluations")
    op.drop_table("test_prompts")
