"""The one place where dunning reaches inside firebase-admin's messaging service.

firebase-admin offers no option for the FCM endpoint (regional gateways, the
test fakes) nor for its retry policy, so :func:`point_messaging_at` sets the
service's endpoint attribute and mounts our own retry policy on its session.
If a new SDK moves either, it raises ``ConfigError`` at start-up, loudly.
"""

from __future__ import annotations

from typing import Any

import requests.adapters
from firebase_admin import App, messaging
from urllib3.util.retry import Retry

from dunning.core.errors import ConfigError

__all__ = ["ENDPOINT_ATTRIBUTE", "NO_RESEND", "messages_url", "point_messaging_at"]

#: The instance attribute holding the send URL (formatted from ``_MessagingService.FCM_URL``).
ENDPOINT_ATTRIBUTE = "_fcm_url"

#: Never send a POST twice. The SDK's own policy retries a read error once, which can deliver a
#: push twice (FCM has no idempotency key), and retries 500/503 four times over ~7 s inside
#: the worker. We keep one retry of a failed *connect* (nothing was sent) and leave every
#: status to the runtime, which retries ``TransientDeliveryError`` honouring ``Retry-After``.
NO_RESEND = Retry(
    total=None,
    connect=1,
    read=0,
    other=0,
    status=0,
    status_forcelist=(),
    allowed_methods=None,
    raise_on_status=False,
    respect_retry_after_header=False,
)

#: Connection pool of the adapter, as large as the SDK's own (``send_each`` runs 500 threads).
POOL_SIZE = 100


def messages_url(base_url: str, project_id: str) -> str:
    """The ``messages:send`` URL of ``project_id`` under ``base_url``."""
    return f"{base_url.rstrip('/')}/v1/projects/{project_id}/messages:send"


def point_messaging_at(app: App, base_url: str) -> str:
    """Send ``app``'s messages to ``base_url`` with the no-resend retry policy; return the send URL.

    Raises ``ConfigError`` when the SDK no longer has what this relies on, or
    when the app has no project id.
    """
    factory = getattr(messaging, "_get_messaging_service", None)
    if not callable(factory):
        raise ConfigError(_moved("messaging._get_messaging_service"))
    try:
        service = factory(app)
    except ValueError as exc:
        raise ConfigError(f"FCM cannot start: {exc}") from exc
    current = getattr(service, ENDPOINT_ATTRIBUTE, None)
    if not isinstance(current, str) or not current.endswith("/messages:send"):
        raise ConfigError(_moved(f"_MessagingService.{ENDPOINT_ATTRIBUTE}"))
    session = _session_of(service)
    url = messages_url(base_url, app.project_id)
    setattr(service, ENDPOINT_ATTRIBUTE, url)
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE, max_retries=NO_RESEND
    )
    for prefix in {*session.adapters, base_url.rstrip("/")}:
        session.mount(prefix, adapter)
    return url


def _session_of(service: Any) -> requests.Session:
    client = getattr(service, "_client", None)
    session = getattr(client, "session", None)
    if not isinstance(session, requests.Session):
        raise ConfigError(_moved("_MessagingService._client.session"))
    return session


def _moved(what: str) -> str:
    import firebase_admin

    return (
        f"firebase-admin {firebase_admin.__version__} no longer has {what}; dunning cannot point FCM "
        "at its endpoint or stop it from re-sending pushes. Pin the last firebase-admin that had "
        "it, or update dunning.channels.fcm_endpoint."
    )
