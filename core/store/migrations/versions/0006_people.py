"""The person and the number: contact points, reasons for holds, combined messages, fixed deadlines.

``contact_points`` links each debtor to the numbers, tokens and addresses
their cases name, so a number shared by two debtors is known as shared and
a STOP from it reaches both. Events get a ``reason`` (why a case is held for
a person) and an index on ``address`` (rights recorded on a contact point).
Intents get ``message_id``: several loans reminded in one message share it.
Cases get a fixed ``deadline`` when the import names one.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dunning.core.store.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_points",
        sa.Column("debtor_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=512), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("debtor_id", "kind", "address", name=op.f("pk_contact_points")),
    )
    with op.batch_alter_table("contact_points", schema=None) as batch_op:
        batch_op.create_index("ix_contact_points_kind_address", ["kind", "address"], unique=False)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_events_address", ["address"], unique=False)
    with op.batch_alter_table("intents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_intents_message_id", ["message_id"], unique=False)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deadline", sa.Date(), nullable=True))
    # Every case's contact points as they stand, so rights recorded from now on find their people.
    for kind, column in (("phone", "phone"), ("push_token", "push_token")):
        op.execute(
            "INSERT INTO contact_points (debtor_id, kind, address, first_seen_at, last_seen_at) "
            f"SELECT debtor_id, '{kind}', {column}, MIN(created_at), MAX(updated_at) FROM cases "
            f"WHERE {column} IS NOT NULL AND {column} <> '' GROUP BY debtor_id, {column}"
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("deadline")
    with op.batch_alter_table("intents", schema=None) as batch_op:
        batch_op.drop_index("ix_intents_message_id")
        batch_op.drop_column("message_id")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_address")
        batch_op.drop_column("reason")
    op.drop_table("contact_points")
