"""One spelling for every way a debtor can type the same reply.

Chinese handsets often send full-width forms (ＳＴＯＰ, ＴＤ, １５号), and people
wrap keywords in punctuation, spaces and emoji ("stop.", " Stop ", "退订。").
The keyword tables in :mod:`dunning.plugins.replies` and the date rules in
:mod:`dunning.plugins.reply_dates` read only the normalised form made here.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["any_of", "clauses", "en", "normalise", "squash", "tokens"]

#: Quotes that NFKC leaves alone but people type for an apostrophe ("don’t").
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u2032": "'", "`": "'"})
#: A full-width comma always ends a clause, but NFKC makes it an ASCII one, which between a digit
#: and a word would not ("0，退订"): it gets the space that keeps it a break.
_WIDE_COMMA = str.maketrans({"\uff0c": ", "})

#: Where one thought ends and the next begins: "STOP. I paid", "下周还不上，月底还",
#: "can't pay today but will on Friday". A period or comma between digits
#: (2026.12.05, 1,000) is part of a number, not a break.
_CLAUSE_BREAK = re.compile(
    r"(?<!\d)[.,:](?!\d)|[.,:](?=\s|$)|[!?;\n…~。，！？；：、]+"
    r"|\s(?:but|however|though|although)\s|但是|不过|可是|然而"
)

#: A run of Latin letters and digits, or a run of other letters (CJK), so that
#: "T谢谢" reads as two words.
_TOKEN = re.compile(r"[a-z0-9]+|[^\W\da-z_]+")


def normalise(text: str) -> str:
    """NFKC (full-width to ASCII), casefolded, ASCII apostrophes, single spaces.

    A line break stays one, because it ends a clause: "I paid\nSTOP" is a
    payment claim and an opt-out, not "i paid stop".
    """
    folded = unicodedata.normalize("NFKC", text.translate(_WIDE_COMMA)).translate(_QUOTES).casefold()
    lines = (" ".join(line.split()) for line in folded.splitlines())
    return "\n".join(line for line in lines if line)


def squash(text: str) -> str:
    """Only the letters and digits: "O.P.T - O U T!" becomes "optout"."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def tokens(text: str) -> list[str]:
    """The words of a normalised reply, punctuation and emoji dropped."""
    return _TOKEN.findall(text)


def clauses(text: str) -> list[str]:
    """The non-empty clauses of a normalised reply, in order."""
    return [part.strip() for part in _CLAUSE_BREAK.split(text) if part and part.strip()]


def en(pattern: str) -> re.Pattern[str]:
    """Compile an English pattern that must not start or end inside a word.

    ``\\b`` is not enough: Python counts CJK characters as word characters, so
    ``\\bpaid`` would miss "我paid了".
    """
    return re.compile(rf"(?<![a-z0-9])(?:{pattern})(?![a-z0-9])")


def any_of(*patterns: re.Pattern[str] | str) -> tuple[re.Pattern[str], ...]:
    """A table of patterns: Chinese ones as plain regexes (no word boundaries in Chinese), English ones
    already built with :func:`en`."""
    return tuple(p if isinstance(p, re.Pattern) else re.compile(p) for p in patterns)
