"""The evaluation ledger: computed evaluations by content key, and which stored evaluations were reused from it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

``ledger`` holds one row per content key (what decides an evaluation's result: the model, the exact prompt ids,
the decoding parameters and the scorer), written when an evaluation is computed and read before one is; an
evaluation found there is stored with ``reused`` true (a column of ``evaluations`` and ``test_evaluations``) instead of
being computed again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVALUATION_TABLES = ("evaluations", "test_evaluations")


def upgrade() -> None:
    op.create_table(
        "ledger",
        sa.Column("content_key", sa.String(length=128), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("content_key", name=op.f("pk_ledger")),
    )
    for table in EVALUATION_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("reused", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    for table in EVALUATION_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("reused")
    op.drop_table("ledger")
