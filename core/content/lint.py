"""Template lint for ``dunning policy check``: render each template with a sample case.

Reports, per template and locale, what a debtor would receive: SMS encoding
and segment count (GSM-7 160/153, UCS-2 70/67), with a warning past the
policy's limit, an error for a template that does not render (with sample
values of the policy's attributes, and without any), and an error for a locale its channel cannot deliver (a call in a language no voice speaks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from dunning.core.channel import Channel
from dunning.core.content.sms import sms_shape
from dunning.core.content.templating import TemplateLibrary, loan_fields, render_context
from dunning.core.domain.model import Case
from dunning.core.errors import Problem, TemplateError
from dunning.core.policy.attributes import AttributeType
from dunning.core.policy.model import Policy

__all__ = ["LintFinding", "lint_templates", "sample_attributes", "sample_case"]


@dataclass(frozen=True)
class LintFinding:
    """One rendered template: a summary line, and a problem if there is one."""

    summary: str
    problem: Problem | None = None


def sample_case(locale: str) -> Case:
    """A realistic case to render templates with, in the given locale."""
    chinese = locale.startswith("zh")
    return Case(
        case_id="SAMPLE-1",
        debtor_id="D-SAMPLE",
        name="张伟" if chinese else "Alex Morgan",
        account="6222021234567890",
        amount_due=Decimal("12345.67"),
        currency="CNY" if chinese else "USD",
        due_date=date(2026, 11, 20),
        locale=locale,
        phone="+8613800138000" if chinese else "+14155552671",
        push_token="sample-token",
        timezone="Asia/Shanghai" if chinese else "America/Los_Angeles",
        payment_url="https://pay.example.com/r/AB12CD",
    )


#: A value of each type to render templates with: what a real case might carry.
_SAMPLES: Mapping[AttributeType, Any] = {
    AttributeType.NUMBER: "720",
    AttributeType.TEXT: "sample",
    AttributeType.DATE: "2026-10-01",
    AttributeType.BOOLEAN: True,
}


def sample_attributes(declared: Mapping[str, AttributeType]) -> dict[str, Any]:
    """A sample value for each declared attribute, in its stored form."""
    return {name: _SAMPLES[kind] for name, kind in declared.items()}


def lint_templates(
    policy: Policy,
    library: TemplateLibrary,
    channels: Mapping[str, type[Channel]],
    settings: Any = None,
) -> list[LintFinding]:
    """Render every (channel, template, locale) the policy uses; report shape and failures.

    With ``settings``, each channel also says whether it can deliver each
    template locale (:meth:`Channel.locale_problem`).
    """
    findings = []
    now = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    for channel, name in sorted(policy.templates()):
        cls = channels.get(channel)
        parts = cls.template_parts if cls else ("body",)
        for locale in library.locales(channel, name) or ["en"]:
            where = f"{channel}/{name}.{locale}.j2"
            if cls is not None and settings is not None:
                findings += _unfit_locale(policy, cls, where, locale, settings)
            combined = policy.combine and (channel, name) != policy.responses.promise_reminder
            shapes = [("", 1)] + ([(" (2 loans in one message)", 2)] if combined else [])
            for label, loans in shapes:
                finding = _lint_one(policy, library, cls, channel, name, locale, parts, now, loans)
                findings.append(replace(finding, summary=finding.summary.replace(where, where + label, 1)))
    return findings


def _lint_one(
    policy: Policy,
    library: TemplateLibrary,
    cls: type[Channel] | None,
    channel: str,
    name: str,
    locale: str,
    parts: tuple[str, ...],
    now: datetime,
    loans: int,
) -> LintFinding:
    """Render one template for a sample person with ``loans`` loans in the message; say its shape."""
    where = f"{channel}/{name}.{locale}.j2"
    case = replace(sample_case(locale), attributes=sample_attributes(policy.attributes))
    today = now.date()
    listed = [loan_fields(case, case.amount_due, today, policy.deadline)]
    if loans > 1:
        second = replace(case, case_id="S-2", account="6222029876543210", amount_due=Decimal("880.00"))
        listed.append(loan_fields(second, second.amount_due, today, policy.deadline))
    context = render_context(
        case,
        amount=case.amount_due,
        now=now,
        deadline=policy.deadline,
        contact={
            "phone": policy.contact.get("phone") or "95555",
            "name": policy.contact.get("name") or "Lender",
            "url": policy.contact.get("url"),
        },
        loans=listed if loans > 1 else (),
        attributes=policy.attributes,
    )
    try:
        rendered = library.render(channel, name, locale, context, parts)
        if policy.attributes:
            # Again without a value for any attribute, as for a case whose import left them out.
            bare = {**context, "attributes": dict.fromkeys(policy.attributes)}
            library.render(channel, name, locale, bare, parts)
    except TemplateError as exc:
        return LintFinding(f"{where}: does not render", Problem(policy.source, 0, where, str(exc)))
    if cls is None or cls.kind != "text":
        return LintFinding(f"{where}: {len(rendered.body)} characters")
    shape = sms_shape(rendered.body)
    summary = f"{where}: {shape.encoding}, {shape.units} units, {shape.segments} segment(s)"
    problem = None
    if shape.segments > policy.sms_segment_limit:
        problem = Problem(
            policy.source,
            0,
            where,
            f"{shape.segments} SMS segments, more than the limit of {policy.sms_segment_limit}",
            "warning",
        )
    return LintFinding(summary, problem)


def _unfit_locale(
    policy: Policy, cls: type[Channel], where: str, locale: str, settings: Any
) -> list[LintFinding]:
    """An error when the channel cannot deliver a template in ``locale`` (it says why)."""
    problem = cls.locale_problem(locale, settings)
    if not problem:
        return []
    return [LintFinding(f"{where}: {problem}", Problem(policy.source, 0, where, problem))]
