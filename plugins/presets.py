"""The built-in guardrail presets: US Regulation F, China, UK and a conservative default.

Each preset cites the rule it implements. Where a rule leaves a number open
(the UK's "reasonable" times) the preset takes the conservative reading.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import time, timedelta

from dunning.core.domain.guardrails import ANY, Cap, Cooldown, QuietWindow
from dunning.core.hookspecs import hookimpl
from dunning.core.policy.presets import Preset

DAY = timedelta(days=1)
WEEK = timedelta(days=7)

#: 12 CFR 1006 (Regulation F) under the FDCPA.
US_REG_F = Preset(
    name="us_reg_f",
    description="US Regulation F: 08:00-21:00 local, 7 calls in 7 days per debt, "
    "no call within 7 days after a conversation",
    quiet=(
        # §1006.6(b)(1)(i): before 8:00 a.m. and after 9:00 p.m. are inconvenient,
        # in every zone the consumer may be in when the location is uncertain.
        QuietWindow(time(21, 0), time(8, 0), source="us_reg_f"),
    ),
    caps=(
        # §1006.14(b)(2)(i): more than 7 call attempts in 7 consecutive days per debt.
        Cap("voice", 7, WEEK, scope="case", source="us_reg_f"),
        # Texts are outside 7-in-7, but many a day is still harassment (§1006.14(b)(1)).
        Cap("sms", 3, DAY, scope="debtor", source="us_reg_f"),
    ),
    cooldowns=(
        # §1006.14(b)(2)(ii): no call within 7 days after a telephone conversation
        # about the debt; the day of the conversation is day 1.
        Cooldown("voice", WEEK, after="conversation", scope="case", source="us_reg_f"),
    ),
    citations=("12 CFR 1006.6(b)(1)(i)", "12 CFR 1006.14(b)(2)"),
)

#: China Banking Association guideline (trial, 2026-01-30) and the China Internet
#: Finance Association post-loan collection guideline (2024-05-15).
CHINA = Preset(
    name="china",
    description="China: no collection 22:00-08:00 local, at most 6 dial attempts and 3 connected calls a day",
    quiet=(
        # CBA 2026 and CIFA 2024: no collection between 22:00 and 08:00.
        QuietWindow(time(22, 0), time(8, 0), source="china"),
    ),
    caps=(
        # CBA 2026: at most 6 unanswered dial attempts a day to the same contact
        # method; counting every attempt is the stricter reading.
        Cap("voice", 6, DAY, scope="debtor", source="china"),
        # CIFA 2024: at most 3 connected voice calls a day per debtor.
        Cap("voice", 3, DAY, scope="debtor", count="connected", source="china"),
    ),
    citations=("CBA personal consumer loan collection guideline (trial), 2026", "CIFA 2024"),
)

#: FCA CONC 7.9: no numbers, only "unreasonable times"; this is a careful reading.
UK = Preset(
    name="uk",
    description="UK FCA CONC 7.9: no contact at unreasonable times (read as 21:00-08:00), modest daily caps",
    quiet=(QuietWindow(time(21, 0), time(8, 0), source="uk"),),
    caps=(
        Cap(ANY, 3, DAY, scope="debtor", source="uk"),
        Cap("voice", 2, DAY, scope="debtor", source="uk"),
    ),
    citations=("FCA CONC 7.9.4", "FCA CONC 7.9.7"),
)

#: For a lender with no preset of its own: the strictest hours above, light caps.
CONSERVATIVE = Preset(
    name="conservative",
    description="Conservative default: 09:00-20:00 local, at most 2 contacts a day and "
    "1 call a day per debtor, no call within 7 days after a conversation",
    quiet=(QuietWindow(time(20, 0), time(9, 0), source="conservative"),),
    caps=(
        Cap(ANY, 2, DAY, scope="debtor", source="conservative"),
        Cap("voice", 1, DAY, scope="debtor", source="conservative"),
        Cap("voice", 7, WEEK, scope="case", source="conservative"),
    ),
    cooldowns=(Cooldown("voice", WEEK, after="conversation", scope="case", source="conservative"),),
    citations=("12 CFR 1006.14(b)(2)", "FCA CONC 7.9"),
)

BUILTIN_PRESETS = (US_REG_F, CHINA, UK, CONSERVATIVE)


@hookimpl
def dunning_register_presets(register: Callable[[Preset], None]) -> None:
    for preset in BUILTIN_PRESETS:
        register(preset)
