"""Twilio's webhooks: delivery statuses, inbound SMS, call statuses and keypresses.

Each request must carry a valid ``X-Twilio-Signature`` computed over the
public URL this deployment is reached at (``DUNNING_PUBLIC_URL``, for
proxies) and the form parameters; anything else gets 403 and changes nothing.
The routes join the API through ``dunning_register_routes``, as any channel
plugin's webhooks would: the core never imports a provider SDK.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from dunning.channels.handoff import after_dial, handoff_twiml
from dunning.channels.twilio_settings import TwilioSettings
from dunning.channels.voice_lines import line, say
from dunning.channels.voices import BUILT_IN, FALLBACK, Voice, parse_voices
from dunning.core.content.masking import mask_phone
from dunning.core.errors import ConfigError, InputError
from dunning.core.hookspecs import hookimpl
from dunning.core.intake.keys import fingerprint, namespaced
from dunning.core.intake.records import normalise_phone
from dunning.core.intake.service import Intake
from dunning.core.intake.work import WorkActions

__all__ = ["GATHER_EVENT_PREFIX", "dunning_register_routes", "gather_event_id", "router"]

log = logging.getLogger(__name__)

#: Event ids of Twilio's messages and calls are stored as ``twilio:<SID>``.
EVENT_NAMESPACE = "twilio"


async def signed_form(request: Request) -> dict[str, str]:
    """The form body, after checking Twilio's signature over the public URL."""
    form = await request.form()
    params = {key: str(value) for key, value in form.multi_items()}
    signature = request.headers.get("X-Twilio-Signature", "")
    url = request.app.state.public_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    token = TwilioSettings.of(request.app.state.settings).auth_token
    secret = token.get_secret_value() if token is not None else ""
    valid = bool(secret and signature) and RequestValidator(secret).validate(url, params, signature)
    if not valid:
        request.app.state.metrics.webhook_rejected.labels(endpoint=request.url.path).inc()
        log.warning("rejected an unsigned or mis-signed webhook to %s", request.url.path)
        raise HTTPException(status_code=403, detail="invalid Twilio signature")
    return params


router = APIRouter(prefix="/webhooks/twilio", include_in_schema=True, tags=["twilio webhooks"])


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


def _twiml(body: str) -> Response:
    return Response(content=body, media_type="application/xml")


SignedForm = Depends(signed_form)


@router.post(
    "/sms/status", status_code=204, summary="SMS delivery status callback", operation_id="twilio_sms_status"
)
def sms_status(request: Request, form: dict[str, str] = SignedForm) -> Response:
    _intake(request).delivery_status(
        intent_id=request.query_params.get("intent_id"),
        provider_id=form.get("MessageSid"),
        status=form.get("MessageStatus", ""),
        code=form.get("ErrorCode") or None,
    )
    return Response(status_code=204)


@router.post("/sms/inbound", summary="An SMS from a debtor", operation_id="twilio_sms_inbound")
def sms_inbound(request: Request, form: dict[str, str] = SignedForm) -> Response:
    intake = _intake(request)
    sender = form.get("From", "")
    try:
        phone = normalise_phone(sender)
    except InputError:
        phone = sender
    body = form.get("Body", "")
    result = intake.inbound(
        phone,
        body,
        at=intake.rt.now(),
        channel="sms",
        event_id=namespaced(EVENT_NAMESPACE, form.get("MessageSid")),
        fingerprint=fingerprint({"from": phone, "body": body}),
        opt_out_type=form.get("OptOutType"),
    )
    if result is None:
        log.info("inbound SMS from %s matches no debtor", mask_phone(phone))
        return _twiml('<?xml version="1.0" encoding="UTF-8"?><Response/>')
    response = MessagingResponse()
    if result.answer:
        response.message(result.answer)
    return _twiml(str(response))


@router.post(
    "/voice/status", status_code=204, summary="Call status callback", operation_id="twilio_voice_status"
)
def voice_status(request: Request, form: dict[str, str] = SignedForm) -> Response:
    _intake(request).delivery_status(
        intent_id=request.query_params.get("intent_id"),
        provider_id=form.get("CallSid"),
        status=form.get("CallStatus", ""),
        code=form.get("ErrorCode") or None,
        answered_by=form.get("AnsweredBy"),
        sequence=form.get("SequenceNumber") or None,
    )
    return Response(status_code=204)


#: Prefix of the event id of a keypress, so that it never collides with a lender's event ids.
GATHER_EVENT_PREFIX = "twilio-gather:"


def gather_event_id(call_sid: str | None, digits: str) -> str | None:
    """``twilio-gather:<CallSid>:<digits>``: a retried keypress POST is recorded once."""
    return f"{GATHER_EVENT_PREFIX}{call_sid}:{digits}" if call_sid else None


@router.post(
    "/voice/gather",
    summary="A key pressed during a reminder call (answers TwiML)",
    operation_id="twilio_voice_gather",
)
def voice_gather(request: Request, form: dict[str, str] = SignedForm) -> Response:
    """Always valid TwiML, whatever happened to the keypress: Twilio speaks an error otherwise."""
    intake = _intake(request)
    intent_id = request.query_params.get("intent_id", "")
    digits = form.get("Digits", "")
    meaning = _keypress(intake, intent_id, digits, gather_event_id(form.get("CallSid"), digits))
    locale = request.query_params.get("locale") or _locale_of(intake, intent_id)
    if meaning == "handoff":
        return _twiml(_put_through(request, intake, intent_id, locale))
    response = VoiceResponse()
    say(response, *line(meaning, locale, _voices(request)))
    response.hangup()
    return _twiml(str(response))


def _put_through(request: Request, intake: Intake, intent_id: str, locale: str) -> str:
    """The agent keypress: ``<Dial>`` the agent the policy names for the case, or the fallback."""
    handoff = intake.rt.policy.handoff
    number = handoff.number_for(locale, _segment_of(intake, intent_id))
    settings = TwilioSettings.of(request.app.state.settings)
    return handoff_twiml(
        number=number,
        locale=locale,
        voices=_voices(request),
        public_url=request.app.state.public_url,
        intent_id=intent_id,
        timeout_seconds=int(handoff.timeout.total_seconds()),
        caller_id=settings.from_,
    )


@router.post(
    "/voice/dial",
    summary="The debtor's call to an agent ended (the <Dial action>; answers TwiML)",
    operation_id="twilio_voice_dial",
)
def voice_dial(request: Request, form: dict[str, str] = SignedForm) -> Response:
    """Record the agent leg on the case's work item; a caller nobody answered hears the fallback."""
    intake = _intake(request)
    intent_id = request.query_params.get("intent_id", "")
    status = form.get("DialCallStatus", "") or "unknown"
    duration = form.get("DialCallDuration", "")
    seconds = int(duration) if duration.isdigit() else None
    case_id = _case_of(intake, intent_id)
    if case_id is not None:
        try:
            WorkActions(intake).agent_call(case_id, status.lower()[:32], seconds)
        except Exception:
            log.exception("the agent call of intent %r could not be recorded", intent_id[:64])
    locale = request.query_params.get("locale") or _locale_of(intake, intent_id)
    return _twiml(after_dial(status, locale, _voices(request)))


def _case_of(intake: Intake, intent_id: str) -> str | None:
    with intake.rt.store.read() as conn:
        row: Any = intake.rt.store.intent(conn, intent_id)
    return None if row is None else str(row.case_id)


def _segment_of(intake: Intake, intent_id: str) -> str | None:
    """The segment the reminder was sent for (an agent's number may be the segment's)."""
    try:
        with intake.rt.store.read() as conn:
            row: Any = intake.rt.store.intent(conn, intent_id)
    except Exception:
        log.exception("cannot read the segment of intent %r", intent_id[:64])
        return None
    return None if row is None else str(row.segment)


def _keypress(intake: Intake, intent_id: str, digits: str, event_id: str | None) -> str:
    """What the key meant; ``goodbye`` when no reminder stands behind the call (a channel test)."""
    try:
        return intake.keypress(intent_id, digits, at=intake.rt.now(), event_id=event_id)
    except InputError:
        log.info("a key was pressed on a call with no reminder behind it (intent %r)", intent_id[:64])
    except Exception:
        log.exception("a keypress on the call for intent %r could not be recorded", intent_id[:64])
    return "goodbye"


def _voices(request: Request) -> dict[str, Voice]:
    """The configured voices; the built-in ones if the setting is broken (the channel says so)."""
    try:
        return parse_voices(TwilioSettings.of(request.app.state.settings).voices)
    except ConfigError:
        return dict(BUILT_IN)


def _locale_of(intake: Intake, intent_id: str) -> str:
    """The case's locale, for calls placed before their gather URL carried it."""
    try:
        with intake.rt.store.read() as conn:
            row: Any = intake.rt.store.intent(conn, intent_id)
            if row is None:
                return FALLBACK
            loaded = intake.rt.store.load_cases(conn, [row.case_id]).get(row.case_id)
    except Exception:
        log.exception("cannot read the locale of intent %r", intent_id[:64])
        return FALLBACK
    return loaded[0].locale if loaded else FALLBACK


@hookimpl
def dunning_register_routes(register: Callable[[APIRouter], None]) -> None:
    register(router)
