"""Hypothesis strategies for dunning's property tests: random policies a strategist could write.

Shared by the engine's properties and the person-level ones (and usable by
a plugin's own tests): ``policies()`` draws the YAML of a policy as a dict,
``compiled(spec)`` compiles it with the registered channels and presets.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml
from hypothesis import strategies as st

from dunning.core.domain.guardrails import ANY
from dunning.core.errors import Problem
from dunning.core.plugins import make_registry
from dunning.core.policy.compile import compile_policy
from dunning.core.policy.model import Policy

__all__ = [
    "CEILINGS",
    "CHANNELS",
    "DAYS",
    "DEFAULT_CEILING",
    "START",
    "WAITS",
    "WEEKDAYS",
    "compiled",
    "phones",
    "policies",
    "send_windows",
    "windowed_policies",
    "zones",
]

REGISTRY = make_registry()
CHANNELS = ["sms", "push", "voice"]
WAITS = ["0", "1s", "30m", "4h", "1d", "2d"]
#: The daily contact ceiling a random policy sets, or None to leave the default.
CEILINGS = [None, 1, 2, 3, 5, 8]
DEFAULT_CEILING = 3

phones = st.sampled_from(
    ["+8613800138000", "+12125551234", "+14155552671", "+79161234567", "+61412345678", "+447911123456"]
)
zones = st.sampled_from([None, "Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Sydney"])
clock = st.tuples(st.integers(0, 23), st.sampled_from([0, 30])).map(lambda hm: f"{hm[0]:02d}:{hm[1]:02d}")


@st.composite
def policies(draw: Any) -> dict[str, Any]:
    steps = draw(
        st.lists(
            st.builds(
                lambda ch, wait, rep: {
                    "channel": ch,
                    "template": "overdue_call" if ch == "voice" else "overdue_notice",
                    "wait": wait,
                    "repeat": rep,
                },
                st.sampled_from(CHANNELS),
                st.sampled_from(WAITS),
                st.integers(0, 1),
            ),
            min_size=1,
            max_size=4,
        )
    )
    then = draw(st.sampled_from(["stop", "repeat_last", "restart", "handoff"]))
    if then in ("repeat_last", "restart") and steps[-1]["wait"] == "0":
        steps[-1]["wait"] = "1d"
    quiet = []
    for _ in range(draw(st.integers(0, 2))):
        start, end = draw(clock), draw(clock)
        if start != end:
            window = {"start": start, "end": end}
            if draw(st.booleans()):
                window["channels"] = draw(
                    st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=2, unique=True)
                )
            quiet.append(window)
    caps = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "channel": st.sampled_from([ANY, *CHANNELS]),
                    "max": st.integers(1, 4),
                    "per": st.sampled_from(["1h", "6h", "1d", "3d", "7d"]),
                    "scope": st.sampled_from(["debtor", "case"]),
                }
            ),
            max_size=3,
        )
    )
    spec = {
        "name": "random",
        "preset": draw(st.sampled_from(["none", "china", "us_reg_f", "uk", "conservative"])),
        "quiet_hours": quiet,
        "caps": caps,
        "cooldowns": draw(st.sampled_from([[], [{"channel": "voice", "for": "2d"}]])),
        "segments": [{"name": "all", "ladder": "l"}],
        "ladders": {
            "l": {"start_after": draw(st.sampled_from(["0", "1d", "3d"])), "steps": steps, "then": then}
        },
        "responses": {
            "promise_grace": draw(st.sampled_from(["0", "1d"])),
            "reply_pause": draw(st.sampled_from(["1h", "1d"])),
        },
    }
    ceiling = draw(st.sampled_from(CEILINGS))
    if ceiling is not None:
        spec["limits"] = {"daily_contacts": ceiling}
    return spec


#: Weekday names a window's ``days`` lists, Monday first.
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@st.composite
def send_windows(draw: Any, narrow: bool = False) -> dict[str, Any]:
    """A window as a policy writes it: some hours, some weekdays, a way of choosing the moment."""
    window: dict[str, Any] = {}
    if not narrow or draw(st.booleans()):
        start = draw(st.integers(0, 22))
        end = draw(st.integers(start + 1, 24))
        minute = draw(st.sampled_from([0, 30]))
        window["hours"] = f"{start:02d}:{minute:02d}-{end:02d}:00"
    if draw(st.booleans()):
        window["days"] = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
    if draw(st.booleans()):
        window["send_at"] = draw(st.sampled_from(["spread", "learned"]))
    return window


@st.composite
def windowed_policies(draw: Any) -> dict[str, Any]:
    """A random policy with send windows on some channels, and on some steps."""
    spec: dict[str, Any] = draw(policies())
    chosen = draw(st.lists(st.sampled_from(CHANNELS), max_size=3, unique=True))
    spec["windows"] = {channel: draw(send_windows()) for channel in chosen}
    for step in spec["ladders"]["l"]["steps"]:
        if draw(st.integers(0, 3)) == 0:
            step["window"] = draw(send_windows(narrow=True))
    return spec


START = datetime(2026, 11, 25, tzinfo=UTC)
DAYS = 21


def compiled(spec: dict[str, Any]) -> tuple[Policy | None, list[Problem]]:
    policy, problems = compile_policy(
        yaml.safe_dump(spec, allow_unicode=True),
        file="random.yaml",
        channels=REGISTRY.channel_specs(),
        presets=REGISTRY.presets,
    )
    return policy, problems
