"""People in the loop: hold reasons, the work queue, console users and sessions, outbound webhooks.

A case held for a person carries its hold reason and since when; each such
case has one open work item with an SLA deadline and an owner. Events carry
the person who acted. Console users and their server-side sessions, and the
outbox of signed webhooks to the lender's systems, have tables of their own.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dunning.core.store.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: Items that are not resolved: at most one per case.
_OPEN = sa.text("state != 'resolved'")


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hold_reason", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("held_since", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_cases_hold_reason", ["hold_reason"], unique=False)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor", sa.String(length=128), nullable=True))
    _work_items()
    _users_and_sessions()
    _webhook_deliveries()


def _work_items() -> None:
    op.create_table(
        "work_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("case_id", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("sla_due", UTCDateTime(), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("resolved_by", sa.String(length=128), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("call_status", sa.String(length=32), nullable=True),
        sa.Column("call_seconds", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_items")),
    )
    op.create_index("ix_work_items_case_id", "work_items", ["case_id"], unique=False)
    op.create_index("ix_work_items_state_due", "work_items", ["state", "sla_due"], unique=False)
    op.create_index(
        "uq_work_items_open_case",
        "work_items",
        ["case_id"],
        unique=True,
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )


def _users_and_sessions() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_users")),
    )
    op.create_table(
        "sessions",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sessions")),
    )
    op.create_index("ix_sessions_user_name", "sessions", ["user_name"], unique=False)
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"], unique=False)


def _webhook_deliveries() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=128), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=512), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("ix_webhook_deliveries_case_id", "webhook_deliveries", ["case_id"], unique=False)
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["state", "next_attempt_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("sessions")
    op.drop_table("users")
    op.drop_table("work_items")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("actor")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_hold_reason")
        batch_op.drop_column("outcome")
        batch_op.drop_column("held_since")
        batch_op.drop_column("hold_reason")
