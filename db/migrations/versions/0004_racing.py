"""Racing: a candidate status for sets eliminated early in a step, and each step's race summary.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

``step_candidates.status`` may now be ``eliminated`` (a set that left the step's race before it was scored on
every held-out prompt); ``steps.racing`` holds the race of a step that raced (JSON: settings, rounds, evaluations
against an exhaustive step, and per eliminated set its round, the prompts it saw and its bound), null otherwise.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "status IN ('scored', 'skipped', 'failed')"
AFTER = "status IN ('scored', 'skipped', 'failed', 'eliminated')"


def _candidate_status(condition: str) -> None:
    with op.batch_alter_table("step_candidates") as batch:
        batch.drop_constraint(op.f("ck_step_candidates_status"), type_="check")
        batch.create_check_constraint(op.f("ck_step_candidates_status"), condition)


def upgrade() -> None:
    _candidate_status(AFTER)
    with op.batch_alter_table("steps") as batch:
        batch.add_column(sa.Column("racing", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        batch.drop_column("racing")
    op.execute("DELETE FROM step_candidates WHERE status = 'eliminated'")
    _candidate_status(BEFORE)
