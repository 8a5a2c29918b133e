"""Reminder templates: sandboxed Jinja2, strict about missing fields, aware of locale.

Templates live under ``templates/<channel>/<name>.<locale>.j2``: first in the
deployment's own directories, then in dunning's built-in ones (package data),
then in the sources channel plugins register for their own channels. A missing field fails the
render — a debtor never receives "Dear ,". A template may define one block
per part its channel needs (``{% block title %}`` and ``{% block body %}`` for
push); without blocks the whole template is the body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from dunning.core.content.sources import TemplateSource, TraversableLoader, as_traversable
from dunning.core.domain.model import Case
from dunning.core.domain.zones import candidate_zones
from dunning.core.errors import TemplateError
from dunning.core.policy.attributes import AttributeType, typed
from dunning.core.policy.model import Deadline

__all__ = ["Rendered", "TemplateLibrary", "localized", "mask_account", "render_context"]

#: The locale a template falls back to when the debtor's has no template.
FALLBACK_LOCALE = "en"


def localized(value: str | Mapping[str, str] | None, locale: str) -> str:
    """A text that may be given per locale: the locale's, its language's, English, or any."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    for key in (locale, locale.split("-")[0], FALLBACK_LOCALE):
        if key in value:
            return value[key]
    return next(iter(value.values()), "")


def mask_account(account: str, keep: int = 4) -> str:
    """``6222021234567890`` → ``****7890``: the last digits only."""
    tail = account.strip()[-keep:] if account else ""
    return "****" + tail


def _babel_locale(locale: str) -> str:
    return locale.replace("-", "_")


def money(amount: Decimal | int | str, currency: str, locale: str = "en") -> str:
    return format_currency(Decimal(str(amount)), currency, locale=_babel_locale(locale))


def local_date(value: date | datetime, locale: str = "en", fmt: str = "medium") -> str:
    day = value.date() if isinstance(value, datetime) else value
    return format_date(day, format=fmt, locale=_babel_locale(locale))


def number(value: Any, locale: str = "en") -> str:
    return format_decimal(value, locale=_babel_locale(locale))


@dataclass(frozen=True)
class Rendered:
    """The rendered parts of one message (``body``; ``title`` for push)."""

    parts: Mapping[str, str]

    @property
    def body(self) -> str:
        return self.parts["body"]


def render_context(
    case: Case,
    *,
    amount: Decimal,
    now: datetime,
    deadline: Deadline | None = None,
    contact: Mapping[str, Any] | None = None,
    default_timezone: str | None = None,
    extra: Mapping[str, Any] | None = None,
    loans: Sequence[Mapping[str, Any]] = (),
    attributes: Mapping[str, AttributeType] | None = None,
) -> dict[str, Any]:
    """The fields a reminder template may use, for ``case`` at ``now``.

    The account number appears masked only; the full number is not offered.
    ``loans`` lists every loan a combined message reminds of (``case`` is the
    first of them); ``loans`` always holds at least the case itself, and
    ``total`` sums what they owe. ``attributes`` are those the policy
    declares: a template reads them typed as ``attributes.NAME`` (none where
    the case has no value; a name the policy does not declare fails the render).
    """
    zone = candidate_zones(case.timezone, case.phone, default_timezone)[0]
    today = now.astimezone(zone).date()
    contact = contact or {}
    own = loan_fields(case, amount, today, deadline or Deadline())
    listed = list(loans) or [own]
    context: dict[str, Any] = {
        "name": case.name,
        **own,
        "payment_url": case.payment_url or contact.get("url") or "",
        "contact": case.contact or contact.get("phone") or "",
        "lender": localized(contact.get("name"), case.locale),
        "locale": case.locale,
        "case_id": case.case_id,
        "loans": listed,
        "total": sum((loan["amount"] for loan in listed), Decimal(0)),
        "attributes": typed(attributes or {}, case.attributes),
    }
    if extra:
        context.update(extra)
    return context


def loan_fields(case: Case, amount: Decimal, today: date, deadline: Deadline) -> dict[str, Any]:
    """What a template may say of one loan: masked account, amount, days overdue, due date, deadline."""
    return {
        "account": mask_account(case.account),
        "amount": amount,
        "currency": case.currency,
        "days_overdue": max(0, (today - case.due_date).days),
        "days_to_due": max(0, (case.due_date - today).days),
        "due_date": case.due_date,
        "deadline": deadline_for(case, today, deadline),
    }


def deadline_for(case: Case, today: date, deadline: Deadline) -> date:
    """The repayment deadline a reminder names for ``case`` (fixed per loan unless ``from: today``)."""
    if deadline.start == "import" and case.deadline is not None:
        return case.deadline
    if deadline.start in ("due_date", "import"):
        return case.due_date + deadline.after
    return today + deadline.after


class TemplateLibrary:
    """Finds and renders templates per channel and locale, in a sandbox."""

    def __init__(
        self,
        directories: Sequence[str | Path] = (),
        *,
        filters: Mapping[str, Callable[..., Any]] | None = None,
        sources: Sequence[TemplateSource] = (),
    ) -> None:
        """``directories``: the deployment's overrides; ``sources``: what plugins registered."""
        loaders: list[Any] = [FileSystemLoader([str(d) for d in directories])] if directories else []
        loaders.append(PackageLoader("dunning.templates", "."))
        loaders.extend(TraversableLoader(as_traversable(source)) for source in sources)
        self.env = SandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update({"money": money, "date": local_date, "mask": mask_account, "number": number})
        if filters:
            self.env.filters.update(filters)

    def candidates(self, channel: str, name: str, locale: str) -> list[str]:
        """Template paths to try, most specific first: zh-CN, zh, then the fallback."""
        tags = [locale]
        if "-" in locale:
            tags.append(locale.split("-")[0])
        tags.append(FALLBACK_LOCALE)
        seen: list[str] = []
        for tag in tags:
            path = f"{channel}/{name}.{tag}.j2"
            if path not in seen:
                seen.append(path)
        return seen

    def exists(self, channel: str, name: str, locale: str | None = None) -> bool:
        """Whether a template exists for the channel (in ``locale``, or in any locale)."""
        if locale is not None:
            return self._find(channel, name, locale) is not None
        prefix = f"{channel}/{name}."
        return any(t.startswith(prefix) and t.endswith(".j2") for t in self.env.list_templates())

    def locales(self, channel: str, name: str) -> list[str]:
        prefix = f"{channel}/{name}."
        return sorted(
            t[len(prefix) : -len(".j2")]
            for t in self.env.list_templates()
            if t.startswith(prefix) and t.endswith(".j2")
        )

    def _find(self, channel: str, name: str, locale: str) -> str | None:
        for path in self.candidates(channel, name, locale):
            try:
                self.env.get_template(path)
            except TemplateNotFound:
                continue
            return path
        return None

    def render(
        self,
        channel: str,
        name: str,
        locale: str,
        context: Mapping[str, Any],
        parts: Sequence[str] = ("body",),
    ) -> Rendered:
        """Render each part; raise TemplateError on a missing template or field."""
        path = self._find(channel, name, locale)
        if path is None:
            raise TemplateError(f"no template {name!r} for channel {channel!r} in {locale!r}")
        try:
            template = self.env.get_template(path)
            ctx = dict(context)
            if any(part in template.blocks for part in parts):
                out = {}
                for part in parts:
                    if part not in template.blocks:
                        raise TemplateError(f"{path}: no block {part!r}")
                    block = template.blocks[part](template.new_context(ctx))
                    out[part] = _tidy("".join(block))
                return Rendered(out)
            return Rendered({"body": _tidy(template.render(ctx))})
        except UndefinedError as exc:
            raise TemplateError(f"{path}: {exc.message}") from exc
        except (TemplateSyntaxError, SecurityError) as exc:
            raise TemplateError(f"{path}: {exc}") from exc


def _tidy(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.strip().splitlines()]
    return "\n".join(line for line in lines if line)
