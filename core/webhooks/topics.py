"""What the lender's systems may subscribe to, and the setting that says who listens to what.

``DUNNING_WEBHOOKS="https://lender.example/hooks=handed_off,disputed;https://other/x=paid"``:
entries are separated by ``;`` (or a new line), each a URL, ``=``, and the
topics it wants (``*`` or nothing: all of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from dunning.core.errors import ConfigError

__all__ = ["SETTING", "Subscription", "Topic", "parse_subscriptions"]

#: The setting subscriptions come from, named in its errors.
SETTING = "DUNNING_WEBHOOKS"


class Topic(StrEnum):
    """Something that happened which the lender's systems may want to act on."""

    HANDED_OFF = "handed_off"  #: a case is held for a person (any reason) and waits in the queue
    DISPUTED = "disputed"  #: the debtor disputes the debt
    OPTED_OUT = "opted_out"  #: the debtor opted out of a channel, or of every one
    PAID = "paid"  #: the case is paid (in full, or closed as paid by a person)
    PROMISE_BROKEN = "promise_broken"  #: a promise to pay ran out unpaid
    QUARANTINED = "quarantined"  #: deciding or rendering the case failed; it is parked


@dataclass(frozen=True)
class Subscription:
    """One receiver and the topics it hears."""

    url: str
    topics: frozenset[Topic]


def parse_subscriptions(text: str | None) -> tuple[Subscription, ...]:
    """The subscriptions a setting names; ``ConfigError`` names the entry at fault."""
    out = []
    for entry in (part.strip() for part in (text or "").replace("\n", ";").split(";")):
        if entry:
            out.append(_entry(entry))
    return tuple(out)


def _entry(entry: str) -> Subscription:
    url, _, wanted = entry.rpartition("=") if "=" in entry else (entry, "", "")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{SETTING}: {entry!r}: {url!r} is not an http(s) URL")
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    if not names or names == ["*"]:
        return Subscription(url, frozenset(Topic))
    topics = set()
    for name in names:
        try:
            topics.add(Topic(name))
        except ValueError:
            known = ", ".join(t.value for t in Topic)
            raise ConfigError(f"{SETTING}: {entry!r}: unknown topic {name!r} (known: {known})") from None
    return Subscription(url, frozenset(topics))
