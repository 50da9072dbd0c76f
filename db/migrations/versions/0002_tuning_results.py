"""Decoding-tuning results: the best decoding parameters of each tuning study of a search.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Optuna keeps the studies themselves in its own tables (and its own ``alembic_version``) in the same database;
this table holds what demo-search shows and exports: per study, the best parameters, their score, the score of
the search's own parameters, the number of completed trials and the parameter importances.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tuning_results",
        sa.Column("search_id", sa.Integer(), nullable=False),
        sa.Column("study_name", sa.String(length=255), nullable=False),
        sa.Column("demo_ids", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("stderr", sa.Float(), nullable=True),
        sa.Column("baseline_score", sa.Float(), nullable=True),
        sa.Column("n_trials", sa.Integer(), nullable=False),
        sa.Column("importances", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["search_id"], ["searches.id"], name=op.f("fk_tuning_results_search_id_searches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("search_id", "study_name", name=op.f("pk_tuning_results")),
    )


def downgrade() -> None:
    op.drop_table("tuning_results")
