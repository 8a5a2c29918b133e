"""What the Twilio SMS and voice channels share: the REST client and the typing of its errors.

Twilio's exceptions drop the response headers, so the client records them per
thread to read ``Retry-After``. Error codes are mapped once, here, for both the
API's refusals and the codes of delivery-status callbacks.

Twilio has no idempotency key, so an ambiguous send (a read timeout, a reset
connection) is settled by reading back what Twilio holds for the number
(:func:`sent_since`): a message or call created since the send began means it
left; none means it did not, and the runtime sends it again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from dunning.channels.transport import retry_after_seconds, transport_error
from dunning.channels.twilio_settings import TWILIO_API, TwilioSettings
from dunning.core.channel import Receipt
from dunning.core.content.masking import mask_address
from dunning.core.errors import (
    AmbiguousDeliveryError,
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)

__all__ = [
    "CLOCK_SKEW",
    "TwilioAccount",
    "callback_url",
    "code_error",
    "day_of",
    "sent_since",
    "twilio_error",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Codes that prove the number itself is no good, for every channel using it.
ADDRESS_CODES = frozenset({"21211", "21217", "13223", "13224", "30005"})
#: Codes that prove only this channel cannot use the number (a landline takes no SMS).
CHANNEL_CODES = frozenset({"21614", "21635", "30006"})
#: The recipient replied STOP: record the opt-out.
OPT_OUT_CODES = frozenset({"21610"})
#: Codes worth a retry later (handset off, carrier hiccup, rate limit).
TRANSIENT_CODES = frozenset({"20429", "30003", "30008"})
#: Carrier filtering: this content is blocked, and someone should look at it.
ALERT_CODES = frozenset({"30007"})
#: How far Twilio's clock may lag ours (and its dates are to the second) when reading back a send.
CLOCK_SKEW = timedelta(minutes=5)
#: Records per page when reading back what was sent to a number.
LIST_PAGE = 50
#: Twilio refused our credentials or our account: every send fails until an operator acts.
ACCOUNT_CODES = frozenset({"20003", "20005", "20006"})


def proxied(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment names a proxy (or proxy exceptions) for requests to honour."""
    return any(name.lower().endswith("_proxy") for name in (os.environ if environ is None else environ))


def ca_bundle(environ: Mapping[str, str] | None = None) -> str | None:
    """The CA bundle the environment names for requests, as requests reads it, or None."""
    found = os.environ if environ is None else environ
    return found.get("REQUESTS_CA_BUNDLE") or found.get("CURL_CA_BUNDLE") or None


class HeaderRecordingHttpClient(TwilioHttpClient):  # type: ignore[misc]  # the SDK is untyped
    """A ``TwilioHttpClient`` that keeps each thread's last response headers (for ``Retry-After``)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._local = threading.local()
        if self.session is not None and not proxied():
            # With no proxy to honour, the environment is read once, here, rather than
            # walked through on every request (its CA bundle kept; its .netrc is only
            # for requests without credentials, and every request to Twilio has them).
            bundle = ca_bundle()
            if bundle is not None:
                self.session.verify = bundle
            self.session.trust_env = False

    def request(self, *args: Any, **kwargs: Any) -> Response:
        self._local.headers = {}
        response = super().request(*args, **kwargs)
        self._local.headers = {str(k).lower(): str(v) for k, v in (response.headers or {}).items()}
        return response

    @property
    def last_headers(self) -> Mapping[str, str]:
        headers: Mapping[str, str] = getattr(self._local, "headers", {})
        return headers

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


class TwilioAccount:
    """A Twilio REST client pointed at ``base_url``, whose calls raise only ``DeliveryError``."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        base_url: str = TWILIO_API,
        timeout: float = 10.0,
    ) -> None:
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise ConfigError(f"twilio base URL must be http(s), not {base_url!r}")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.http = HeaderRecordingHttpClient(timeout=timeout)
        # environment={} so that TWILIO_REGION / TWILIO_EDGE cannot rewrite base_url's host.
        self.client = Client(account_sid, auth_token, http_client=self.http, environment={})
        self.client.api.base_url = base_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Any) -> TwilioAccount | None:
        """The account of ``settings``' ``DUNNING_TWILIO_*`` section, or None without a SID and token."""
        own = TwilioSettings.of(settings)
        secret = own.auth_token.get_secret_value() if own.auth_token is not None else ""
        if not own.account_sid or not secret:
            return None
        return cls(own.account_sid, secret, base_url=own.base_url, timeout=own.timeout)

    def call(self, what: str, create: Callable[[], T]) -> T:
        """Run one SDK call; translate whatever it raises into the delivery error tree."""
        try:
            return create()
        except TwilioException as exc:
            raise twilio_error(exc, self.http.last_headers) from exc
        except requests.exceptions.RequestException as exc:
            raise transport_error(exc, "Twilio") from exc
        except ValueError as exc:
            # A 2xx whose body is not JSON: Twilio answered, so the request may have been accepted.
            raise AmbiguousDeliveryError(f"Twilio answered {what} with an unreadable body") from exc
        except Exception as exc:
            # Unforeseen: nothing proves the request was not sent, so it must not be blindly retried.
            log.error("unexpected %s from Twilio %s", type(exc).__name__, what)
            raise AmbiguousDeliveryError(f"unexpected {type(exc).__name__} from Twilio {what}") from exc

    def lookup(self, what: str, read: Callable[[], T]) -> T:
        """Run a read-only SDK call: any failure is transient (nothing was sent; ask again later)."""
        try:
            return self.call(what, read)
        except DeliveryError as exc:
            raise TransientDeliveryError(f"cannot read back from Twilio yet: {exc}", code=exc.code) from exc

    def close(self) -> None:
        self.http.close()


def callback_url(public_url: str, path: str, intent_id: str) -> str:
    """``{public_url}{path}?intent_id=...``: webhooks find their intent even before the SID is known."""
    return f"{public_url.rstrip('/')}{path}?intent_id={quote(intent_id, safe='')}"


def day_of(moment: datetime) -> datetime:
    """Midnight UTC of ``moment``'s day: Twilio documents its date filters by the day."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.combine(moment.astimezone(UTC).date(), datetime.min.time(), UTC)


def sent_since(resources: Iterable[Any], since: datetime) -> Any | None:
    """The earliest outbound message or call created at or after ``since`` (less ``CLOCK_SKEW``).

    Anything we sent to the number since the ambiguous attempt began counts:
    mistaking another reminder for this one costs one reminder, while the
    opposite mistake would send the debtor the same reminder twice.
    """
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    cutoff = since - CLOCK_SKEW
    found = [
        r
        for r in resources
        if r.date_created is not None
        and r.date_created >= cutoff
        and str(r.direction or "outbound").startswith("outbound")
    ]
    return min(found, key=lambda r: r.date_created) if found else None


def code_error(code: str | None, message: str) -> DeliveryError | None:
    """The error a Twilio error code means, or None when the code alone does not say."""
    if not code:
        return None
    if code in ADDRESS_CODES:
        return PermanentDeliveryError(message, code=code, invalidates="address")
    if code in CHANNEL_CODES:
        return PermanentDeliveryError(message, code=code, invalidates="channel")
    if code in OPT_OUT_CODES:
        return PermanentDeliveryError(message, code=code, opt_out=True)
    if code in TRANSIENT_CODES:
        return TransientDeliveryError(message, code=code)
    if code in ALERT_CODES:
        log.warning("ALERT: Twilio error %s (carrier filtering): review the template's content", code)
        return PermanentDeliveryError(message, code=code)
    return None


def twilio_error(exc: TwilioException, headers: Mapping[str, str]) -> DeliveryError:
    """Type a refusal of Twilio's API: by error code first, then by HTTP status."""
    code = getattr(exc, "code", None)
    status = _int(getattr(exc, "status", None))
    code_text = str(code) if code is not None else (str(status) if status else None)
    detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", None)
    message = f"Twilio error {code_text}: {detail or type(exc).__name__}"
    if code_text == "20429" or status == 429:
        return TransientDeliveryError(message, code=code_text, retry_after=retry_after_seconds(headers))
    typed = code_error(code_text, message)
    if typed is not None:
        return typed
    if status is not None and status >= 500:
        return TransientDeliveryError(message, code=code_text, retry_after=retry_after_seconds(headers))
    if code_text in ACCOUNT_CODES or status in (401, 403):
        log.error("ALERT: Twilio refused the account's credentials (%s): check the SID and token", code_text)
    return PermanentDeliveryError(message, code=code_text)


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def reconcile_by_listing(
    twilio: TwilioAccount,
    what: str,
    intent_id: str,
    to: str,
    since: datetime,
    read: Callable[[datetime], list[Any]],
) -> Receipt | None:
    """Settle an ambiguous send by listing what Twilio holds for ``to`` since ``since``.

    ``read(day)`` lists the texts or calls to ``to`` from ``day`` (Twilio filters
    by the day) plus those still queued. Its receipt when Twilio took one, None
    when surely not; a failed read raises ``TransientDeliveryError`` so that the
    runtime asks again later.
    """
    if not to:
        raise TransientDeliveryError(f"intent {intent_id}: no number to look up", code="no_address")
    found = twilio.lookup(f"{what}.list", lambda: read(day_of(since - CLOCK_SKEW)))
    match = sent_since(found, since)
    log.info(
        "%s for intent %s to %s reconciled: %s",
        what,
        intent_id,
        mask_address(to),
        "taken by Twilio" if match is not None else "not taken",
    )
    if match is None:
        return None
    return Receipt(provider_id=match.sid, status=str(match.status or "queued"))
