"""What a provider's delivery status means to dunning, whatever words the provider uses.

Each channel maps its provider's status words to one of these
(:meth:`dunning.core.channel.Channel.outcome_of`), so that the intake applies
a status callback without knowing any provider's vocabulary.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["StatusOutcome"]


class StatusOutcome(StrEnum):
    """The meaning of one delivery status."""

    #: It reached the person: the handset has the text, the call was answered.
    DELIVERED = "delivered"
    #: It left, with no news of arrival yet (queued, sent, ringing).
    ACCEPTED = "accepted"
    #: It failed: the channel's ``status_error`` says whether to fall back, invalidate or retry.
    FAILED = "failed"
    #: A call that rang out or was busy: an attempt (Reg F counts it), not a failure.
    UNANSWERED = "unanswered"
    #: A word this channel does not know: kept on the timeline, changes nothing.
    UNKNOWN = "unknown"
