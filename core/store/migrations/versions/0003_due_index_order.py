"""The scheduler's index follows its order: (next_check_at, case_id), so a page stops early.

An index led by the status made PostgreSQL sort every due case for each page
of a tick (a million-case tick slowed down as it went); this one hands the
due cases over already in order.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_due")
        batch_op.create_index("ix_cases_due", ["next_check_at", "case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_due")
        batch_op.create_index("ix_cases_due", ["status", "next_check_at"], unique=False)
