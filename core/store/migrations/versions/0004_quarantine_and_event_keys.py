"""Quarantine and safe idempotency.

A case whose decision or rendering fails is parked with its error
(``fault``, ``faults``, ``quarantined_at``) instead of stopping the tick.
Events carry a ``fingerprint`` of what the sender said, so the same id sent
again with another body is a conflict rather than a silent duplicate, and
event ids are namespaced by where they came from (``api:``, ``twilio:``, ...)
so a lender's ids can never collide with a provider's.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dunning.core.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("faults", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("fault", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("quarantined_at", UTCDateTime(), nullable=True))
        batch_op.create_index("ix_cases_quarantined_at", ["quarantined_at"], unique=False)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch_op.alter_column(
            "event_id",
            existing_type=sa.String(length=128),
            type_=sa.String(length=160),
            existing_nullable=True,
        )
    # Ids recorded before namespaces existed: a provider's message id, or the lender's own.
    op.execute(
        "UPDATE events SET event_id = 'twilio:' || event_id "
        "WHERE event_id IS NOT NULL AND source IN ('reply', 'webhook') AND event_id LIKE 'SM%'"
    )
    op.execute(
        "UPDATE events SET event_id = 'api:' || event_id "
        "WHERE event_id IS NOT NULL AND event_id NOT LIKE 'twilio:%'"
    )


def downgrade() -> None:
    op.execute("UPDATE events SET event_id = substr(event_id, 5) WHERE event_id LIKE 'api:%'")
    op.execute("UPDATE events SET event_id = substr(event_id, 8) WHERE event_id LIKE 'twilio:%'")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("fingerprint")
        batch_op.alter_column(
            "event_id",
            existing_type=sa.String(length=160),
            type_=sa.String(length=128),
            existing_nullable=True,
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_quarantined_at")
        batch_op.drop_column("quarantined_at")
        batch_op.drop_column("fault")
        batch_op.drop_column("faults")
