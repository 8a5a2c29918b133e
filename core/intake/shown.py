"""How a bad value appears in an error message: short, and never a whole phone or account number.

An import's messages go to a terminal, a CI log and a ticket; the rejects file
keeps the row itself. A value is echoed so the operator can find it, cut to a
few characters, with any long run of digits masked down to its last two.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

__all__ = ["shown"]

#: Longest piece of a value a message repeats.
ECHO = 24
#: A run of this many digits or more may be a phone or account number: only its last two are shown.
DIGIT_RUN = 7

_RUN = re.compile(rf"\d{{{DIGIT_RUN},}}")


def shown(value: Any) -> str:
    """``value`` quoted for a message: at most ``ECHO`` characters, long digit runs masked."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        text = str(value)
    else:
        return f"a {type(value).__name__}"
    text = _RUN.sub(lambda m: "*" * (len(m.group()) - 2) + m.group()[-2:], text)
    if len(text) > ECHO:
        text = text[:ECHO] + "…"
    return repr(text)
