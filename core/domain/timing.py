"""When, inside a send window, a reminder goes: spread across the window, or at the learned hour.

Every debtor due at a window's opening would otherwise be sent at once at
09:00 sharp. Instead a stable hash of the debtor picks their own moment of
the stretch of time the window (and the quiet hours, in every zone the
debtor may be in) leaves open — or, with ``send_at: learned``, a minute of
the hour at which they answer most. A reminder due after that moment has
passed goes at once; one due before it waits for it. The moment is a pure
function of the debtor and the stretch, so deciding again at that moment
finds it has come. A deferral names that moment's rule (``send_window:spread``,
``learned_hour:HH``) when only the daily hours held the reminder back, and
the holiday, cap or cool-down otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from dunning.core.domain.assignment import stable_point
from dunning.core.domain.guardrails import Guardrails, Lawful, earliest_lawful
from dunning.core.domain.learning import learned_hour
from dunning.core.domain.situation import Situation
from dunning.core.domain.windows import SendWindow
from dunning.core.domain.zones import local_moment, phone_region
from dunning.core.policy.model import Step

__all__ = ["SPREAD", "appointment", "open_stretch", "send_time"]

#: The rule of a reminder held back to its debtor's own moment of the window.
SPREAD = "send_window:spread"
#: Rules of the daily rhythm: a deferral held back by these alone names the debtor's moment instead.
_RHYTHM = ("quiet_hours:", "send_window:")


def send_time(ctx: Situation, step: Step, segment: str, joins: str | None = None) -> Lawful:
    """The earliest lawful moment for ``step`` inside its window, at the debtor's own time of it.

    A send that joins another loan's message goes with that message, as it is.
    """
    window = ctx.window(step.channel, step)
    lawful = earliest_lawful(
        ctx.now,
        step.channel,
        rails=ctx.policy.rails,
        zones=ctx.zones,
        case_id=ctx.case.case_id,
        contacts=ctx.contacts,
        events=ctx.events,
        phone_country=lambda: phone_region(ctx.case.phone),
        joins=joins,
        window=window,
    )
    if window is None or joins is not None:
        return lawful
    return appointment(
        lawful,
        step.channel,
        window,
        rails=ctx.policy.rails,
        zones=ctx.zones,
        debtor_id=ctx.case.debtor_id,
        own_hours=ctx.history.response_hours,
        segment_hours=ctx.history.learned.segment_hours.get(segment, {}),
    )


def appointment(
    lawful: Lawful,
    channel: str,
    window: SendWindow,
    *,
    rails: Guardrails,
    zones: Sequence[ZoneInfo],
    debtor_id: str,
    own_hours: Mapping[int, int],
    segment_hours: Mapping[int, int],
) -> Lawful:
    """``lawful`` moved to the debtor's moment of its open stretch, when that moment is later."""
    if lawful.at is None:
        return lawful
    start, end = open_stretch(lawful.at, channel, window, rails, zones)
    fraction = stable_point("window", debtor_id)
    target, rule = _spread(start, end, fraction)
    hour = learned_hour(window, own_hours, segment_hours) if window.learned else None
    if hour is not None:
        aimed = _at_hour(lawful.at, start, end, hour[0], fraction, zones[0])
        if aimed is not None:
            target = aimed
            rule = f"learned_hour:{hour[0]:02d}" + (":segment" if hour[1] == "segment" else "")
    if target <= lawful.at:
        return lawful
    if not all(r.startswith(_RHYTHM) for r in lawful.blocked_by):
        rule = lawful.rule or rule  # a holiday, a cap or a cool-down is the reason to name
    return Lawful(target, rule, (*lawful.blocked_by, rule))


def _spread(start: datetime, end: datetime, fraction: float) -> tuple[datetime, str]:
    minutes = int((end - start).total_seconds() // 60)
    return start + timedelta(minutes=int(fraction * minutes)), SPREAD


def _at_hour(
    t: datetime, start: datetime, end: datetime, hour: int, fraction: float, zone: ZoneInfo
) -> datetime | None:
    """A minute of ``hour`` (local, in the debtor's first zone) within the stretch, or None."""
    begin = local_moment(t.astimezone(zone).date(), time(hour), zone)
    target = max(start, begin + timedelta(minutes=int(fraction * 60)))
    return target if target < min(end, begin + timedelta(hours=1)) else None


def open_stretch(
    t: datetime, channel: str, window: SendWindow, rails: Guardrails, zones: Sequence[ZoneInfo]
) -> tuple[datetime, datetime]:
    """The stretch of time around lawful ``t`` in which the window is open and nothing is quiet.

    From the latest opening at or before ``t`` (the window's, or the end of a
    quiet spell, in any zone) to the first closing after it (the window's, a
    quiet spell's start, or a local midnight, in any zone). The same for
    every ``t`` inside one stretch.
    """
    start, end = t, t + timedelta(days=1)
    openings, closings = [], []
    for zone in zones:
        local = t.astimezone(zone)
        day = local.date()
        openings.append(window.opening(day, zone))
        closings += [window.closing(day, zone), local_moment(day + timedelta(days=1), time(0), zone)]
        for quiet in rails.quiet:
            if not quiet.applies(channel):
                continue
            if local.time() >= quiet.end:
                openings.append(local_moment(day, quiet.end, zone))
            follows = day if local.time() < quiet.start else day + timedelta(days=1)
            closings.append(local_moment(follows, quiet.start, zone))
    start = max([o for o in openings if o <= t], default=start)
    end = min([c for c in closings if c > t], default=end)
    return start, end
