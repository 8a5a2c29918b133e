"""What a debtor's free-text reply means: opt-out, paid, promise, dispute, ...

Classifiers are plugins (``dunning_classify_reply``, first answer wins); the
built-in ones for zh-CN and en live in ``dunning.plugins.replies``. A reply no
classifier understands is still recorded, and counts as engagement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pluggy

__all__ = ["EVERY_CHANNEL", "HOLD_KINDS", "REPLY_KINDS", "Classification", "classify_reply"]

#: What a classifier may answer.
#: ``info`` is the HELP keyword (CTIA): a request for the lender's contact, answered without
#: pausing anything; ``help`` is a request for a person or the way to pay, which is engagement.
#: ``opt_in`` takes back an opt-out (START, UNSTOP); ``paid`` is a *claimed* payment, which only
#: the lender's payment feed can confirm.
_ANSWER_KINDS = frozenset({"opt_out", "opt_in", "paid", "promise", "dispute", "wrong_number", "help", "info"})
#: Replies that hold the case for a person, whatever the ladder says (the policy may choose otherwise):
#: represented by an attorney, bankruptcy, a complaint to a regulator, hardship, the debtor has died.
HOLD_KINDS = frozenset({"attorney", "bankruptcy", "complaint", "hardship", "deceased"})
REPLY_KINDS = _ANSWER_KINDS | HOLD_KINDS
#: What an opt-out's ``channel`` may say beyond a channel's name: every channel (a cease).
EVERY_CHANNEL = "all"


@dataclass(frozen=True)
class Classification:
    """A classifier's reading of a reply.

    ``date`` is the promised day of a promise. ``channel`` is the channel an
    opt-out (or opt-in) names — ``voice`` for "stop calling me", ``all`` for
    "stop all contact" — or None when it names none, meaning the channel the
    reply came on.
    """

    kind: str
    date: date | None = None
    classifier: str = ""
    channel: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in REPLY_KINDS:
            raise ValueError(f"unknown reply kind {self.kind!r}")


def classify_reply(pm: pluggy.PluginManager, text: str, locale: str, today: date) -> Classification | None:
    """Ask the classifier plugins; None when none of them understands the reply."""
    result: Classification | None = pm.hook.dunning_classify_reply(text=text, locale=locale, today=today)
    return result
