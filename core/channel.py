"""The channel contract: what every channel, built-in or third-party, provides.

A channel knows its name and queue, which contact point of a debtor it uses
(``contact_kind``), how to send one rendered message, and how to type its
failures with the error tree of :mod:`dunning.core.errors`. It is built from
settings by :meth:`Channel.from_settings`; one that returns None is not
configured, and the engine falls through its steps.

A channel also owns what only its provider knows: the meaning of the
provider's status words (:meth:`Channel.outcome_of`), its price
(:meth:`Channel.price`), its settings namespace and whether it confirms an
opt-out; the core speaks only its own vocabulary.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar

from dunning.core.domain.model import Case
from dunning.core.errors import DeliveryError
from dunning.core.outcome import StatusOutcome
from dunning.core.price import Price

__all__ = ["Channel", "ChannelSpec", "OutboundMessage", "Receipt"]

#: The kinds of channel; ``call`` attempts are what Reg F's 7-in-7 counts.
KINDS = ("text", "push", "call", "other")


@dataclass(frozen=True)
class ChannelSpec:
    """What the policy and the engine need to know of a channel, without settings."""

    name: str
    contact_kind: str
    kind: str = "text"
    queue: str = ""

    @property
    def queue_name(self) -> str:
        return self.queue or f"dunning.{self.name}"


@dataclass(frozen=True)
class OutboundMessage:
    """One rendered reminder, ready for a channel to send.

    ``parts`` holds each rendered template part (``body``; push adds
    ``title``); ``data`` is machine data for the receiving app or callback.
    """

    intent_id: str
    case_id: str
    channel: str
    to: str
    parts: Mapping[str, str]
    locale: str = "en"
    data: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def body(self) -> str:
        return self.parts["body"]


@dataclass(frozen=True)
class Receipt:
    """The provider's acknowledgement of a send."""

    provider_id: str | None
    status: str = "sent"


class Channel(ABC):
    """Base class of every channel. Subclasses set the class attributes and ``send``."""

    #: The channel's name in policies (``sms``, ``push``, ``voice``, ...).
    name: ClassVar[str]
    #: Which contact point it uses: ``phone``, ``push_token`` or a custom kind.
    contact_kind: ClassVar[str] = "phone"
    #: ``text``, ``push``, ``call`` or ``other``.
    kind: ClassVar[str] = "text"
    #: The Dramatiq queue; empty means ``dunning.<name>``.
    queue: ClassVar[str] = ""
    #: The template parts a message of this channel is rendered from.
    template_parts: ClassVar[tuple[str, ...]] = ("body",)
    #: The namespace of the settings section it reads (``DUNNING_<NAMESPACE>_*``), if any;
    #: a plugin registers that section with ``dunning_register_settings``.
    settings_namespace: ClassVar[str | None] = None
    #: Whether it sends the one confirmation of an opt-out of this channel (template
    #: ``opt_out_confirmation``) when a debtor opts out through it.
    confirms_opt_out: ClassVar[bool] = False
    #: The provider's status words (lower case) and what each means; see :meth:`outcome_of`.
    statuses: ClassVar[Mapping[str, StatusOutcome]] = MappingProxyType({})

    @classmethod
    def spec(cls) -> ChannelSpec:
        return ChannelSpec(cls.name, cls.contact_kind, cls.kind, cls.queue)

    @classmethod
    def from_settings(cls, settings: Any) -> Channel | None:
        """Build the channel from settings, or return None when it is not configured."""
        return cls()

    @classmethod
    def describe(cls, settings: Any) -> dict[str, Any]:
        """What an operator should see of the channel's set-up in ``dunning channels list``.

        Read from settings alone, configured or not (e.g. the voice per locale);
        JSON-ready; may raise ``ConfigError`` for a bad setting.
        """
        return {}

    @classmethod
    def locale_problem(cls, locale: str, settings: Any) -> str | None:
        """Why this channel cannot deliver a template written in ``locale`` well, or None.

        ``dunning policy check`` reports it for each template locale a step of
        this channel uses (a call in a language no configured voice speaks).
        """
        return None

    @classmethod
    def outcome_of(cls, status: str) -> StatusOutcome:
        """What the provider's delivery status ``status`` means; ``UNKNOWN`` for a word it never says.

        The default reads :attr:`statuses`, ignoring case and surrounding blanks.
        """
        return cls.statuses.get(status.strip().lower(), StatusOutcome.UNKNOWN)

    @classmethod
    def price(cls, settings: Any) -> Price | None:
        """What one message costs, from the channel's own settings; None when it costs nothing known.

        ``dunning report`` uses it for the cost per cure.
        """
        return None

    def address(self, case: Case) -> str | None:
        """The contact point this channel would use for the case, if any."""
        return case.address(self.contact_kind)

    @abstractmethod
    def send(self, message: OutboundMessage) -> Receipt:
        """Send one message; raise a ``DeliveryError`` subclass on failure."""

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[Receipt | DeliveryError]:
        """Send several messages; a channel with a batch API overrides this."""
        results: list[Receipt | DeliveryError] = []
        for message in messages:
            try:
                results.append(self.send(message))
            except DeliveryError as exc:
                results.append(exc)
        return results

    def status_error(self, code: str | None, status: str) -> DeliveryError | None:
        """The error a provider's delivery-status callback means, typed like ``send``'s.

        ``status`` is the provider's status word (``undelivered``, ``failed``,
        ...) and ``code`` its error code. None means the status is no failure.
        """
        return None

    def rate_key(self) -> str:
        """Which provider account a rate limit applies to (e.g. ``sms:AC123:+1555...``)."""
        return self.spec().name

    #: Whether :meth:`reconcile` can tell if an ambiguous send reached the provider.
    can_reconcile: ClassVar[bool] = False

    def reconcile(self, intent_id: str, to: str, since: datetime) -> Receipt | None:
        """After an ambiguous send: the provider's receipt if the message left, else None.

        Only called when ``can_reconcile`` is true. None must mean *surely not
        sent* (the runtime then sends it again); raise a ``DeliveryError`` when
        the provider cannot tell now, and the runtime asks again later.
        """
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; called when a worker stops."""
