"""Charts as inline SVG, drawn on the server: no JavaScript, readable offline, text in <title>s.

Each function returns markup for one ``<svg role="img">`` with an
``aria-label`` that says what it shows; bars and points carry a ``<title>``
with their figure, so a screen reader or a hover tells the number.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from markupsafe import Markup, escape

__all__ = ["bars", "curve", "daily_stacks", "explain_line"]

#: Colours per series, in order (readable on white, distinct for common colour blindness).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
WIDTH, HEIGHT, PAD = 640, 220, 36


def _svg(label: str, body: str, height: int = HEIGHT) -> Markup:
    return Markup(
        f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )


def _empty(label: str) -> Markup:
    return _svg(label, f'<text x="{PAD}" y="40" class="muted">{escape("Nothing to show yet.")}</text>', 60)


def bars(label: str, items: Sequence[tuple[str, int]], colour: str = PALETTE[0]) -> Markup:
    """Horizontal bars, one per item, with its figure at its end."""
    if not items:
        return _empty(label)
    row, top = 24, 8
    height = top + row * len(items) + 8
    biggest = max(value for _, value in items) or 1
    span = WIDTH - 200
    parts = []
    for i, (name, value) in enumerate(items):
        y = top + i * row
        width = max(1, int(span * value / biggest))
        parts.append(
            f'<text x="0" y="{y + 15}" class="axis">{escape(name)[:28]}</text>'
            f'<rect x="170" y="{y + 3}" width="{width}" height="16" fill="{colour}">'
            f"<title>{escape(name)}: {value}</title></rect>"
            f'<text x="{176 + width}" y="{y + 15}" class="axis">{value}</text>'
        )
    return _svg(label, "".join(parts), height)


def daily_stacks(label: str, counts: dict[tuple[date, str], int], days: Sequence[date]) -> Markup:
    """One stacked bar per day, a colour per channel, and a legend."""
    if not counts:
        return _empty(label)
    channels = sorted({channel for _, channel in counts})
    totals = [sum(counts.get((day, c), 0) for c in channels) for day in days]
    biggest = max(totals) or 1
    plot_h = HEIGHT - PAD - 30
    step = (WIDTH - PAD) / max(len(days), 1)
    parts = [f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH}" y2="{HEIGHT - PAD}" class="rule"/>']
    for i, day in enumerate(days):
        x, base = PAD + i * step, float(HEIGHT - PAD)
        for j, channel in enumerate(channels):
            value = counts.get((day, channel), 0)
            if not value:
                continue
            h = plot_h * value / biggest
            base -= h
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{base:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{day}: {escape(channel)} {value}</title></rect>'
            )
        if i % max(1, len(days) // 6) == 0:
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - PAD + 14}" class="axis">{day:%m-%d}</text>')
    parts.append(f'<text x="0" y="{HEIGHT - PAD - plot_h + 4}" class="axis">{biggest}</text>')
    for j, channel in enumerate(channels):
        x = PAD + j * 90
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{PALETTE[j % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 5}" class="axis">{escape(channel)}</text>'
        )
    return _svg(label, "".join(parts))


def curve(label: str, points: Sequence[tuple[int, float]]) -> Markup:
    """A rising line: the share of cases cured by each day (0 to 100 %)."""
    if not points:
        return _empty(label)
    last = max(day for day, _ in points) or 1
    plot_w, plot_h = WIDTH - PAD - 10, HEIGHT - 2 * PAD

    def xy(day: int, share: float) -> tuple[float, float]:
        return PAD + plot_w * day / last, HEIGHT - PAD - plot_h * share

    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(d, s) for d, s in points))
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{PALETTE[2]}"><title>day {d}: {s:.0%}</title></circle>'
        for d, s in points
        for x, y in [xy(d, s)]
    )
    axes = (
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH}" y2="{HEIGHT - PAD}" class="rule"/>'
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" class="rule"/>'
        f'<text x="0" y="{PAD + 4}" class="axis">100%</text><text x="8" y="{HEIGHT - PAD}" class="axis">0%</text>'
        f'<text x="{PAD}" y="{HEIGHT - PAD + 16}" class="axis">day 0</text>'
        f'<text x="{WIDTH - 50}" y="{HEIGHT - PAD + 16}" class="axis">day {last}</text>'
    )
    return _svg(label, f'{axes}<polyline points="{line}" fill="none" stroke="{PALETTE[2]}"/>{dots}')


#: Marker colours of an explained action, by kind.
_KINDS = {"send": PALETTE[0], "defer": PALETTE[1], "suppress": "#d62728", "hold": PALETTE[3], "stop": "#000"}


def explain_line(
    label: str, actions: Sequence[tuple[datetime, str, str]], start: datetime, days: int
) -> Markup:
    """What the policy would do, on a line from ``start`` over ``days``: a marker per action."""
    if not actions:
        return _empty(label)
    end = start + timedelta(days=days)
    span = (end - start).total_seconds() or 1
    y = 60
    parts = [f'<line x1="{PAD}" y1="{y}" x2="{WIDTH - 10}" y2="{y}" class="rule"/>']
    for day in range(0, days + 1, max(1, days // 7)):
        x = PAD + (WIDTH - PAD - 10) * day / days
        parts.append(
            f'<line x1="{x:.1f}" y1="{y - 5}" x2="{x:.1f}" y2="{y + 5}" class="rule"/>'
            f'<text x="{x - 10:.1f}" y="{y + 22}" class="axis">d{day}</text>'
        )
    for i, (at, kind, text) in enumerate(actions):
        x = PAD + (WIDTH - PAD - 10) * (at - start).total_seconds() / span
        dy = -14 - 10 * (i % 3)
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y}" r="5" fill="{_KINDS.get(kind, PALETTE[6])}">'
            f"<title>{at:%Y-%m-%d %H:%M} UTC: {escape(kind)} {escape(text)}</title></circle>"
            f'<text x="{x:.1f}" y="{y + dy}" class="axis">{escape(kind)}</text>'
        )
    legend = "".join(
        f'<circle cx="{PAD + j * 90}" cy="100" r="5" fill="{colour}"/>'
        f'<text x="{PAD + j * 90 + 10}" y="104" class="axis">{kind}</text>'
        for j, (kind, colour) in enumerate(_KINDS.items())
    )
    return _svg(label, "".join(parts) + legend, 120)
