"""``dunning health``: is this deployment ready, asked from inside its container.

A container health check runs it in the service's own container, with the
service's settings: it asks the store (reachable, schema current) and the
broker (reachable) what every dunning process needs, and, with ``--url``, a
local endpoint of the process itself — the API's ``/livez``, a worker's or
scheduler's ``--metrics-port`` — so that a process that hangs is noticed too.
Exit status 0 when all answer, 1 when any does not; one line says which.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

import click

from dunning.core.cli.app import App
from dunning.core.runtime.dispatch import make_broker, ping_broker
from dunning.core.runtime.outage import one_line
from dunning.core.runtime.readiness import check_readiness
from dunning.core.store import open_store

#: Exit statuses of ``dunning health``.
READY, NOT_READY = 0, 1


@click.command()
@click.option(
    "--url",
    "urls",
    multiple=True,
    help="Also require this endpoint to answer 200 (e.g. http://127.0.0.1:9191/metrics). Repeatable.",
)
@click.option(
    "--timeout", default=5.0, show_default=True, type=click.FloatRange(0.1, 120), help="Seconds per URL."
)
@click.pass_obj
def health(app: App, urls: tuple[str, ...], timeout: float) -> None:
    """Exit 0 if the store (at the current schema), the broker and every --url answer; else 1."""
    settings = app.settings
    store = open_store(settings.database_url, migrate=False, pool_size=1, pool_timeout=timeout)
    broker = make_broker(settings.broker_url) if settings.broker_url else None
    try:
        found = check_readiness(store, None if broker is None else (lambda: ping_broker(broker)))
    finally:
        store.dispose()
        if broker is not None:
            broker.close()
    for url in urls:
        found.checks[url] = _answers(url, timeout)
    click.echo(("ready: " if found.ready else "not ready: ") + str(found))
    sys.exit(READY if found.ready else NOT_READY)


def _answers(url: str, timeout: float) -> str:
    """``ok`` when ``url`` answers 200, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return "ok" if response.status == 200 else f"down: HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"down: HTTP {exc.code}"
    except Exception as exc:
        return "down: " + one_line(exc)
