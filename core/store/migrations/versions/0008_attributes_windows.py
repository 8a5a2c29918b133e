"""Strategy that learns: the lender's attributes on cases, and the strategy of debtors and intents.

Cases get ``attributes`` (a JSON object of the lender's own columns the
policy declares). Debtors get ``strategy``, the strategy of a
champion/challenger split they were assigned to for good; intents get
``strategy`` too, so that reports can compare strategies reminder by
reminder. Send windows and learned send times need no column: they are
decided from the policy and the events already stored.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attributes", sa.JSON(), nullable=True))
    with op.batch_alter_table("debtors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("strategy", sa.String(length=64), nullable=True))
    with op.batch_alter_table("intents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("strategy", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intents", schema=None) as batch_op:
        batch_op.drop_column("strategy")
    with op.batch_alter_table("debtors", schema=None) as batch_op:
        batch_op.drop_column("strategy")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("attributes")
