"""Plugins: hooks are specified, typed and documented; registration is strict."""

from __future__ import annotations

import inspect
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import pluggy
import pytest

from dunning.core import hookspecs
from dunning.core.channel import Channel, OutboundMessage, Receipt
from dunning.core.content.templating import TemplateLibrary
from dunning.core.domain.engine import decide
from dunning.core.domain.model import History
from dunning.core.errors import DuplicateNameError, PluginError
from dunning.core.hookspecs import hookimpl
from dunning.core.plugins import Registry, hook_chooser, make_plugin_manager, make_registry
from dunning.testing.factories import make_case

HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("dunning_"))


def test_every_hook_is_prefixed_typed_and_says_how_results_combine():
    assert HOOKS, "no hooks found"
    for name in HOOKS:
        fn = getattr(hookspecs, name)
        sig = inspect.signature(fn)
        assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values()), name
        assert sig.return_annotation is not inspect.Signature.empty, name
        doc = inspect.getdoc(fn) or ""
        assert "All implementations run" in doc or "First non-None" in doc, name


def test_every_hook_is_exercised_by_some_test():
    text = "\n".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_*.py"))
    exercised = set(re.findall(r"(?:def |hook\.)(dunning_\w+)", text))
    missing = [name for name in HOOKS if name not in exercised]
    assert not missing, f"hooks without a test: {missing}"


def test_builtin_channels_and_presets_come_through_the_entry_points(registry):
    assert {"sms", "push", "voice"} <= set(registry.channels)
    assert {"us_reg_f", "china", "uk", "conservative"} <= set(registry.presets)
    assert registry.source_of("channel", "sms") == "sms"
    assert registry.source_of("preset", "china") == "presets"


# -- hook tests --


class Fax(Channel):
    name = "sms"  # collides with the built-in
    contact_kind = "fax"

    def send(self, message: OutboundMessage) -> Receipt:
        return Receipt("fax-1")


class DuplicatePlugin:
    @hookimpl
    def dunning_register_channels(self, register):
        register(Fax)


def test_a_third_party_preset_registers_like_the_built_in_ones(make_policy):
    from datetime import time

    from dunning.core.domain.guardrails import QuietWindow
    from dunning.core.policy.presets import Preset

    class Lunch:
        @hookimpl
        def dunning_register_presets(self, register):
            register(
                Preset(
                    "no_lunch",
                    "no calls at lunch",
                    quiet=(QuietWindow(time(12), time(14), source="no_lunch"),),
                )
            )

    registry = make_registry(extra=[Lunch()])
    assert registry.presets["no_lunch"].quiet[0].rule == "quiet_hours:no_lunch"
    with pytest.raises(DuplicateNameError):
        make_registry(extra=[Lunch(), type("Again", (Lunch,), {})()])


def test_a_duplicate_channel_name_is_rejected_with_both_sources():
    with pytest.raises(DuplicateNameError, match=r"'sms'.*already registered by 'sms'"):
        make_registry(extra=[DuplicatePlugin()])


def test_registering_something_that_is_not_a_channel_is_an_error():
    class Bad:
        @hookimpl
        def dunning_register_channels(self, register):
            register(object)

    with pytest.raises(PluginError, match="not a Channel class"):
        make_registry(extra=[Bad()])


def test_a_misspelled_hook_fails_loudly():
    class Misspelled:
        @hookimpl
        def dunning_register_chanels(self, register):  # typo
            pass

    with pytest.raises(pluggy.PluginValidationError):
        make_plugin_manager(extra=[Misspelled()])


def test_the_allow_list_loads_only_named_plugins_and_rejects_unknown_ones():
    registry = make_registry(["sms", "presets"])
    assert set(registry.channels) == {"sms"}
    with pytest.raises(PluginError, match="not installed: nope"):
        make_registry(["sms", "nope"])


def test_trace_logs_each_hook_call(caplog):
    caplog.set_level(logging.DEBUG, logger="dunning.core.plugins")
    pm = make_plugin_manager(trace=True)
    pm.hook.dunning_template_filters()
    assert "hook dunning_template_filters" in caplog.text


def test_template_filters_from_plugins_reach_templates(tmp_path):
    class Shout:
        @hookimpl
        def dunning_template_filters(self):
            return {"shout": lambda s: s.upper() + "!"}

    registry = Registry(make_plugin_manager(extra=[Shout()])).collect()
    (tmp_path / "sms").mkdir()
    (tmp_path / "sms" / "hello.en.j2").write_text("{{ name|shout }}")
    library = TemplateLibrary([tmp_path], filters=registry.template_filters())
    assert library.render("sms", "hello", "en", {"name": "pay"}).body == "PAY!"


def test_two_plugins_offering_the_same_filter_is_an_error():
    class A:
        @hookimpl
        def dunning_template_filters(self):
            return {"x": str}

    class B:
        @hookimpl
        def dunning_template_filters(self):
            return {"x": repr}

    with pytest.raises(DuplicateNameError, match="'x'"):
        Registry(make_plugin_manager(extra=[A(), B()])).collect().template_filters()


def test_choose_variant_hook_overrides_the_stable_hash(make_policy):
    class AlwaysFirm:
        @hookimpl
        def dunning_choose_variant(self, case, step, variants):
            return "firm"

    policy = make_policy(
        """
        name: t
        preset: none
        segments: [{name: d, ladder: l}]
        ladders:
          l:
            steps:
              - channel: sms
                variants: [{name: soft, template: overdue_notice, weight: 99}, {name: firm, template: overdue_firm}]
        """
    )
    at = datetime(2026, 12, 2, 4, tzinfo=UTC)
    assert decide(make_case(), History(), policy, at).sends[0].variant == "soft"
    chosen = policy.with_chooser(hook_chooser(make_plugin_manager(extra=[AlwaysFirm()])))
    send = decide(make_case(), History(), chosen, at).sends[0]
    assert (send.variant, send.template) == ("firm", "overdue_firm")
