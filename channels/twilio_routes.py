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

from dunning.core.content.masking import mask_phone
from dunning.core.errors import InputError
from dunning.core.hookspecs import hookimpl
from dunning.core.intake.keys import Namespace, fingerprint, namespaced
from dunning.core.intake.records import normalise_phone
from dunning.core.intake.service import Intake

__all__ = ["dunning_register_routes", "router"]

log = logging.getLogger(__name__)


async def signed_form(request: Request) -> dict[str, str]:
    """The form body, after checking Twilio's signature over the public URL."""
    form = await request.form()
    params = {key: str(value) for key, value in form.multi_items()}
    signature = request.headers.get("X-Twilio-Signature", "")
    url = request.app.state.public_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    token = request.app.state.settings.twilio_auth_token
    valid = bool(token and signature) and RequestValidator(token.get_secret_value()).validate(
        url, params, signature
    )
    if not valid:
        request.app.state.metrics.webhook_rejected.labels(endpoint=request.url.path).inc()
        log.warning("rejected an unsigned or mis-signed webhook to %s", request.url.path)
        raise HTTPException(status_code=403, detail="invalid Twilio signature")
    return params


router = APIRouter(prefix="/webhooks/twilio", include_in_schema=True)


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


def _twiml(body: str) -> Response:
    return Response(content=body, media_type="application/xml")


SignedForm = Depends(signed_form)


@router.post("/sms/status", status_code=204, summary="SMS delivery status callback")
def sms_status(request: Request, form: dict[str, str] = SignedForm) -> Response:
    _intake(request).delivery_status(
        intent_id=request.query_params.get("intent_id"),
        provider_id=form.get("MessageSid"),
        status=form.get("MessageStatus", ""),
        code=form.get("ErrorCode") or None,
    )
    return Response(status_code=204)


@router.post("/sms/inbound", summary="An SMS from a debtor")
def sms_inbound(request: Request, form: dict[str, str] = SignedForm) -> Response:
    intake = _intake(request)
    sender = form.get("From", "")
    try:
        phone = normalise_phone(sender)
    except InputError:
        phone = sender
    case = intake.case_for_phone(phone)
    if case is None:
        log.info("inbound SMS from %s matches no live case", mask_phone(phone))
        return _twiml('<?xml version="1.0" encoding="UTF-8"?><Response/>')
    body = form.get("Body", "")
    result = intake.reply(
        case,
        body,
        at=intake.rt.now(),
        channel="sms",
        event_id=namespaced(Namespace.TWILIO, form.get("MessageSid")),
        fingerprint=fingerprint({"from": phone, "body": body}),
        opt_out_type=form.get("OptOutType"),
    )
    response = MessagingResponse()
    if result.answer:
        response.message(result.answer)
    return _twiml(str(response))


@router.post("/voice/status", status_code=204, summary="Call status callback")
def voice_status(request: Request, form: dict[str, str] = SignedForm) -> Response:
    _intake(request).delivery_status(
        intent_id=request.query_params.get("intent_id"),
        provider_id=form.get("CallSid"),
        status=form.get("CallStatus", ""),
        code=form.get("ErrorCode") or None,
        answered_by=form.get("AnsweredBy"),
    )
    return Response(status_code=204)


_THANKS = {
    "promise": ("谢谢，我们已记录您的还款承诺。", "Thank you. We have noted your promise to pay."),
    "ack": ("谢谢，我们已收到您的确认。", "Thank you for confirming."),
    "handoff": ("正在为您转接人工客服，请稍候。", "Please hold while we connect you to an agent."),
    "unknown": ("抱歉，未能识别您的按键。", "Sorry, that key was not recognised."),
}


@router.post("/voice/gather", summary="A key pressed during a reminder call (answers TwiML)")
def voice_gather(request: Request, form: dict[str, str] = SignedForm) -> Response:
    intake = _intake(request)
    intent_id = request.query_params.get("intent_id", "")
    try:
        meaning = intake.keypress(intent_id, form.get("Digits", ""), at=intake.rt.now())
    except InputError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    locale = _locale_of(intake, intent_id)
    chinese, english = _THANKS.get(meaning, _THANKS["unknown"])
    response = VoiceResponse()
    if locale.startswith("zh"):
        response.say(chinese, language="cmn-CN")
    else:
        response.say(english, language="en-US")
    response.hangup()
    return _twiml(str(response))


def _locale_of(intake: Intake, intent_id: str) -> str:
    with intake.rt.store.read() as conn:
        row: Any = intake.rt.store.intent(conn, intent_id)
        if row is None:
            return "en"
        loaded = intake.rt.store.load_cases(conn, [row.case_id]).get(row.case_id)
    return loaded[0].locale if loaded else "en"


@hookimpl
def dunning_register_routes(register: Callable[[APIRouter], None]) -> None:
    register(router)
