"""The outbox channel: records each rendered message in the store instead of sending it.

It is the dry-run mode ("preview a campaign without sending") and what the
demo delivers through: it stands in for every channel, keeping that
channel's name, contact point and queue, so the rest of the flow — caps,
quiet hours, the audit trail — is exactly as in production.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import insert, select

from dunning.core.channel import Channel, ChannelSpec, OutboundMessage, Receipt
from dunning.core.content.masking import mask_address
from dunning.core.hookspecs import hookimpl
from dunning.core.store import Store
from dunning.core.store.schema import outbox_messages

__all__ = ["OutboxChannel"]


class OutboxChannel(Channel):
    """Writes messages to the ``outbox_messages`` table (and echoes them, if asked)."""

    name = "outbox"
    contact_kind = "phone"
    kind = "other"

    def __init__(
        self, store: Store, stands_for: ChannelSpec | None = None, echo: Callable[[str], None] | None = None
    ) -> None:
        self.store = store
        self.stands_for = stands_for
        self.echo = echo

    @classmethod
    def from_settings(cls, settings: object) -> OutboxChannel | None:
        return None  # only ever a stand-in: it needs the store, not provider settings

    @classmethod
    def standing_in_for(
        cls, spec: ChannelSpec, store: Store, echo: Callable[[str], None] | None = None
    ) -> OutboxChannel:
        return cls(store, spec, echo)

    can_reconcile = True

    def reconcile(self, intent_id: str, to: str, since: datetime) -> Receipt | None:
        """The outbox knows for sure: a recorded row means it was sent."""
        with self.store.read() as conn:
            row = conn.execute(
                select(outbox_messages.c.id).where(outbox_messages.c.intent_id == intent_id)
            ).first()
        return None if row is None else Receipt(provider_id=f"outbox-{row.id}", status="recorded")

    def address(self, case: object) -> str | None:
        kind = self.stands_for.contact_kind if self.stands_for else self.contact_kind
        address: str | None = case.address(kind)  # type: ignore[attr-defined]
        return address

    def send(self, message: OutboundMessage) -> Receipt:
        now = datetime.now(UTC)
        with self.store.write() as conn:
            row = conn.execute(
                insert(outbox_messages)
                .values(
                    intent_id=message.intent_id,
                    case_id=message.case_id,
                    channel=message.channel,
                    address=message.to,
                    parts=dict(message.parts),
                    at=now,
                )
                .returning(outbox_messages.c.id)
            ).scalar_one()
        if self.echo is not None:
            text = " / ".join(message.parts.values())
            self.echo(f"{message.case_id:9} → {message.channel:5} {mask_address(message.to)}  {text}")
        return Receipt(provider_id=f"outbox-{row}", status="recorded")


@hookimpl
def dunning_register_channels(register: Callable[[type[Channel]], None]) -> None:
    register(OutboxChannel)
