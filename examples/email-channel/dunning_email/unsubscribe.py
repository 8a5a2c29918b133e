"""One-click unsubscribe (RFC 8058): signed links in ``List-Unsubscribe``, and the route that honours them.

A link names the case and the reminder and carries an HMAC of both, so that
nobody can unsubscribe a debtor they never e-mailed. A ``GET`` (a person, or a
mail scanner following links) only shows a button; the ``POST`` that the
button or the mail program sends records the opt-out of e-mail through
dunning's intake, which cancels every e-mail planned for the debtor.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from dunning.core.domain.model import Event, EventKind
from dunning.core.errors import InputError
from dunning.core.intake.keys import namespaced
from dunning.core.intake.service import Intake
from dunning_email.settings import EmailSettings

__all__ = ["PATH", "router", "sign", "unsubscribe_url"]

log = logging.getLogger(__name__)

#: Where the links point, under ``DUNNING_PUBLIC_URL``.
PATH = "/webhooks/email/unsubscribe"
#: Event ids of unsubscribes are stored as ``email:unsubscribe:<intent>``.
EVENT_NAMESPACE = "email"
#: What RFC 8058 says the one-click POST carries.
ONE_CLICK = "List-Unsubscribe=One-Click"


def sign(secret: str, case_id: str, intent_id: str) -> str:
    """The link's signature: hex HMAC-SHA256 of the case and the reminder."""
    return hmac.new(secret.encode("utf-8"), f"{case_id}\n{intent_id}".encode(), hashlib.sha256).hexdigest()


def unsubscribe_url(public_url: str, secret: str, case_id: str, intent_id: str) -> str:
    """The one-click link of one reminder."""
    query = urlencode({"case": case_id, "intent": intent_id, "sig": sign(secret, case_id, intent_id)})
    return f"{public_url.rstrip('/')}{PATH}?{query}"


router = APIRouter(prefix="/webhooks/email", include_in_schema=True)


def _checked(request: Request) -> tuple[str, str]:
    """The case and reminder of a link whose signature holds; 403 otherwise."""
    own = EmailSettings.of(request.app.state.settings)
    case_id = request.query_params.get("case", "")
    intent_id = request.query_params.get("intent", "")
    given = request.query_params.get("sig", "")
    secret = own.unsubscribe_secret.get_secret_value() if own.unsubscribe_secret is not None else ""
    if not (
        secret and case_id and intent_id and hmac.compare_digest(given, sign(secret, case_id, intent_id))
    ):
        log.warning("refused an unsubscribe link with a wrong signature")
        raise HTTPException(status_code=403, detail="invalid unsubscribe link")
    return case_id, intent_id


@router.get("/unsubscribe", summary="Show the unsubscribe button of a reminder e-mail")
def confirm_page(request: Request) -> HTMLResponse:
    """A page with one button; following the link alone changes nothing (scanners follow links)."""
    _checked(request)
    action = html.escape(str(request.url))
    page = (
        "<!doctype html><meta charset=utf-8><title>Unsubscribe</title>"
        f'<form method=post action="{action}"><input type=hidden name=List-Unsubscribe value=One-Click>'
        "<button>Stop payment reminder e-mails</button></form>"
    )
    return HTMLResponse(page)


@router.post("/unsubscribe", summary="One-click unsubscribe (RFC 8058)")
async def unsubscribe(request: Request) -> HTMLResponse:
    """Record the opt-out of e-mail; a repeated click is recorded once."""
    case_id, intent_id = _checked(request)
    intake: Intake = request.app.state.intake
    event = Event(
        EventKind.OPT_OUT,
        intake.rt.now(),
        case_id=case_id,
        channel="email",
        intent_id=intent_id,
        text="List-Unsubscribe",
        event_id=namespaced(EVENT_NAMESPACE, f"unsubscribe:{intent_id}"),
    )
    try:
        intake.record(event, source="email")
    except InputError as exc:
        raise HTTPException(status_code=404, detail="unknown reminder") from exc
    return HTMLResponse("<!doctype html><meta charset=utf-8><p>You will receive no more reminder e-mails.")
