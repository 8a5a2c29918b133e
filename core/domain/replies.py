"""What a debtor's free-text reply means: opt-out, paid, promise, dispute, ...

Classifiers are plugins (``dunning_classify_reply``, first answer wins); the
built-in ones for zh-CN and en live in ``dunning.plugins.replies``. A reply no
classifier understands is still recorded, and counts as engagement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pluggy

__all__ = ["REPLY_KINDS", "Classification", "classify_reply"]

#: What a classifier may answer.
#: ``info`` is the HELP keyword (CTIA): a request for the lender's contact, answered without
#: pausing anything; ``help`` is a request for a person or the way to pay, which is engagement.
#: ``opt_in`` takes back an opt-out (START, UNSTOP).
REPLY_KINDS = frozenset({"opt_out", "opt_in", "paid", "promise", "dispute", "wrong_number", "help", "info"})


@dataclass(frozen=True)
class Classification:
    """A classifier's reading of a reply; ``date`` is the promised day for a promise."""

    kind: str
    date: date | None = None
    classifier: str = ""

    def __post_init__(self) -> None:
        if self.kind not in REPLY_KINDS:
            raise ValueError(f"unknown reply kind {self.kind!r}")


def classify_reply(pm: pluggy.PluginManager, text: str, locale: str, today: date) -> Classification | None:
    """Ask the classifier plugins; None when none of them understands the reply."""
    result: Classification | None = pm.hook.dunning_classify_reply(text=text, locale=locale, today=today)
    return result
