"""A channel plugin owns what only its provider knows: status words, opt-out confirmation, price.

A pager channel (a plugin written for these tests, with its templates, its
settings and its provider's vocabulary) goes through the real runtime: the
scheduler plans a page, delivery sends it, and the pager's own status words
and replies are applied by the intake, which knows no provider's words.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import Field
from sqlalchemy import select

from dunning.core.channel import Channel, OutboundMessage, Receipt
from dunning.core.errors import ConfigError, DeliveryError, PermanentDeliveryError
from dunning.core.hookspecs import hookimpl
from dunning.core.intake.service import Intake
from dunning.core.outcome import StatusOutcome
from dunning.core.plugins import make_registry
from dunning.core.price import Price
from dunning.core.reporting.reports import ReportOptions
from dunning.core.runtime import build_runtime
from dunning.core.runtime.delivery import deliver
from dunning.core.runtime.runtime import Runtime
from dunning.core.runtime.scheduler import tick
from dunning.core.sections import SettingsSection
from dunning.core.settings import Settings
from dunning.core.store.schema import intents
from dunning.testing.factories import make_case

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
POLICY = """
name: t
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l:
    start_after: 1d
    steps:
      - {channel: pager, template: overdue_notice, wait: 2d}
"""


class PagerSettings(SettingsSection):
    namespace = "pager"

    number: str | None = None
    cost: Decimal = Field(default=Decimal("0.02"), ge=0)
    cost_currency: str = "EUR"


@dataclass
class PagerService:
    """What the pager provider received (shared by every channel instance of a test)."""

    pages: list[OutboundMessage] = field(default_factory=list)


class PagerChannel(Channel):
    """Pages through a made-up provider whose status words are its own."""

    name = "pager"
    contact_kind = "pager"
    settings_namespace = "pager"
    confirms_opt_out = True
    statuses: ClassVar = {
        "beeped": StatusOutcome.DELIVERED,
        "queued": StatusOutcome.ACCEPTED,
        "lost": StatusOutcome.FAILED,
    }
    service: ClassVar[PagerService] = PagerService()

    @classmethod
    def from_settings(cls, settings: Any) -> PagerChannel | None:
        return cls() if PagerSettings.of(settings).number else None

    @classmethod
    def price(cls, settings: Any) -> Price:
        own = PagerSettings.of(settings)
        return Price(own.cost, own.cost_currency)

    def send(self, message: OutboundMessage) -> Receipt:
        self.service.pages.append(message)
        return Receipt(f"page-{len(self.service.pages)}", "queued")

    def status_error(self, code: str | None, status: str) -> DeliveryError | None:
        if status != "lost":
            return None
        return PermanentDeliveryError(f"pager lost it ({code})", code=code, invalidates="channel")


class PagerPlugin:
    def __init__(self, templates: Path) -> None:
        self.templates = templates

    @hookimpl
    def dunning_register_channels(self, register):
        register(PagerChannel)

    @hookimpl
    def dunning_register_settings(self, register):
        register(PagerSettings)

    @hookimpl
    def dunning_register_templates(self, register):
        register(self.templates)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    PagerChannel.service = PagerService()
    templates = tmp_path / "pager-templates" / "pager"
    templates.mkdir(parents=True)
    (templates / "overdue_notice.zh-CN.j2").write_text(
        "{{ name }}，请还款 {{ amount|money(currency, locale) }}"
    )
    (templates / "opt_out_confirmation.zh-CN.j2").write_text("已退订寻呼提醒")
    (tmp_path / "p.yaml").write_text(POLICY)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'd.db'}", policy=str(tmp_path / "p.yaml"), pager_number="+1"
    )
    registry = make_registry(extra=[PagerPlugin(tmp_path / "pager-templates")])
    runtime = build_runtime(settings, registry=registry, clock=lambda: NOW)
    with runtime.store.write() as conn:
        runtime.store.upsert_cases(
            conn, [make_case(contacts={"pager": "PG-7"}, due_date=date(2026, 11, 30))], NOW
        )
    yield runtime
    runtime.close()


def paged(rt: Runtime) -> str:
    """Tick and deliver: the one page of the case; its intent id."""
    tick(rt, NOW)
    with rt.store.read() as conn:
        intent_id = str(conn.execute(select(intents.c.intent_id)).scalar_one())
    deliver(rt, intent_id)
    return intent_id


def state(rt: Runtime, intent_id: str) -> str:
    with rt.store.read() as conn:
        row = rt.store.intent(conn, intent_id)
    assert row is not None
    return str(row.state)


def test_given_the_pagers_own_status_word_for_arrival_then_the_page_is_delivered(rt):
    intent_id = paged(rt)
    assert [m.parts["body"] for m in PagerChannel.service.pages] == ["王芳，请还款 ¥3,200.00"]
    outcome = Intake(rt).delivery_status(intent_id=intent_id, provider_id="page-1", status="BEEPED")
    assert outcome == "delivered" and state(rt, intent_id) == "delivered"


def test_given_a_word_only_another_provider_says_then_it_is_noted_and_changes_nothing(rt):
    intent_id = paged(rt)
    before = state(rt, intent_id)
    # "delivered" is Twilio's word, not the pager's
    assert (
        Intake(rt).delivery_status(intent_id=intent_id, provider_id="page-1", status="delivered") == "noted"
    )
    assert state(rt, intent_id) == before


def test_given_the_pagers_failure_word_then_its_own_error_mapping_decides_what_follows(rt):
    intent_id = paged(rt)
    outcome = Intake(rt).delivery_status(intent_id=intent_id, provider_id="page-1", status="lost", code="E9")
    assert outcome == "failed" and state(rt, intent_id) == "failed"


def test_given_an_opt_out_through_the_pager_then_the_pager_sends_its_one_confirmation(rt):
    intake = Intake(rt)
    case = make_case(contacts={"pager": "PG-7"}, due_date=date(2026, 11, 30))
    result = intake.reply(case, "退订", at=NOW, channel="pager", event_id="pager:R1")
    assert result.classification is not None and result.classification.kind == "opt_out"
    assert result.confirmation_sent
    assert [(m.to, m.parts["body"]) for m in PagerChannel.service.pages] == [("PG-7", "已退订寻呼提醒")]


def test_a_channel_that_does_not_confirm_opt_outs_sends_nothing(rt, monkeypatch):
    monkeypatch.setattr(PagerChannel, "confirms_opt_out", False)
    case = make_case(contacts={"pager": "PG-7"}, due_date=date(2026, 11, 30))
    result = Intake(rt).reply(case, "退订", at=NOW, channel="pager", event_id="pager:R2")
    assert not result.confirmation_sent and PagerChannel.service.pages == []


def test_reports_price_each_channel_from_its_own_plugin_settings(rt):
    options = ReportOptions.from_channels({"pager": PagerChannel}, rt.settings)
    assert options.prices["pager"] == Price(Decimal("0.02"), "EUR") and options.currency == "EUR"
    assert options.cost("pager", 3) == Decimal("0.02")  # per page, whatever its length


def test_the_sms_price_is_per_segment_and_keeps_its_older_variable_names(registry):
    options = ReportOptions.from_channels(
        registry.channels, Settings(cost_sms="0.05", cost_voice="0.10", cost_currency="CNY")
    )
    assert options.currency == "CNY"
    assert options.cost("sms", 3) == Decimal("0.15") and options.cost("voice", 1) == Decimal("0.10")


def test_prices_in_two_currencies_are_refused_naming_the_channels(registry, rt):
    channels = {**registry.channels, "pager": PagerChannel}
    with pytest.raises(ConfigError, match=r"EUR: pager.*USD: sms, voice"):
        ReportOptions.from_channels(channels, rt.settings)
