"""OpenTelemetry tracing, off unless the standard ``OTEL_*`` settings ask for it.

Tracing starts when ``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_TRACES_EXPORTER`` (other than
``none``) is set, and ``OTEL_SDK_DISABLED`` is not ``true``. The exporters are
found by name in the ``opentelemetry_traces_exporter`` entry points, as the
SDK's own auto-configuration does (``otlp`` — over HTTP unless
``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` — ``console``, or any installed one),
and configure themselves from their own ``OTEL_EXPORTER_*`` variables.
``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` name the service.

The OpenTelemetry packages are an optional extra (``dunning[otel]``): nothing
imports them until tracing starts, and with tracing off :func:`span` costs a
function call.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points
from typing import Any

from dunning.core.errors import ConfigError

__all__ = ["active", "span", "start_tracing", "stop_tracing", "tracer_provider", "wanted"]

log = logging.getLogger(__name__)

#: The instrumentation scope of every dunning span.
SCOPE = "dunning"
#: The entry-point group exporters register under (the SDK's auto-configuration reads it too).
EXPORTERS = "opentelemetry_traces_exporter"


class _Tracing:
    """The process's tracer provider and tracer, once tracing has started."""

    provider: Any = None
    tracer: Any = None


_state = _Tracing()


def wanted(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the standard OTEL_* settings ask for traces."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def active() -> bool:
    """Whether this process traces."""
    return _state.tracer is not None


def tracer_provider() -> Any:
    """The SDK tracer provider of this process (None while tracing is off): tests add exporters to it."""
    return _state.provider


def start_tracing(role: str, environ: Mapping[str, str] | None = None) -> bool:
    """Start tracing in this process if the OTEL_* settings ask for it; return whether it traces.

    ``role`` (``api``, ``worker``, ``scheduler``, ...) becomes the resource
    attribute ``dunning.role``. A second call is a no-op. ConfigError when
    tracing is asked for and cannot be had (the extra is not installed, no
    exporter by that name).
    """
    env = os.environ if environ is None else environ
    if active() or not wanted(env):
        return active()
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ConfigError(
            "OTEL_* settings ask for tracing, but OpenTelemetry is not installed: pip install 'dunning[otel]'"
        ) from exc
    attributes = {"dunning.role": role}
    if not env.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = "dunning"
    provider = TracerProvider(resource=Resource.create(attributes))
    for exporter in _exporters(env):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider":
        trace.set_tracer_provider(provider)  # libraries that trace through the global provider join in
    _state.provider, _state.tracer = provider, provider.get_tracer(SCOPE)
    log.info("tracing on: exporting spans to %s", env.get("OTEL_TRACES_EXPORTER") or "otlp")
    return True


def stop_tracing() -> None:
    """Export what is pending and stop tracing in this process."""
    provider, _state.provider, _state.tracer = _state.provider, None, None
    if provider is not None:
        provider.shutdown()


def _exporters(env: Mapping[str, str]) -> list[Any]:
    names = [n.strip().lower() for n in (env.get("OTEL_TRACES_EXPORTER") or "otlp").split(",")]
    return [_exporter(name, env) for name in names if name and name != "none"]


def _exporter(name: str, env: Mapping[str, str]) -> Any:
    """The exporter registered as ``name``; ``otlp`` falls back to the HTTP or gRPC one installed."""
    candidates = [name]
    if name == "otlp":
        grpc = env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "").strip().lower() == "grpc"
        candidates.append("otlp_proto_grpc" if grpc else "otlp_proto_http")
    for candidate in candidates:
        for found in entry_points(group=EXPORTERS, name=candidate):
            return found.load()()
    raise ConfigError(
        f"OTEL_TRACES_EXPORTER: no span exporter named {name!r} is installed "
        "(pip install 'dunning[otel]' brings otlp and console)"
    )


@contextlib.contextmanager
def span(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """A span named ``name`` around the code inside, or nothing while tracing is off.

    Yields the span (None when off). An exception leaving it marks the span
    as an error, by its type only: exception messages may quote personal data.
    """
    tracer = _state.tracer
    if tracer is None:
        yield None
        return
    from opentelemetry.trace import Status, StatusCode

    clean = {k: v for k, v in (attributes or {}).items() if v is not None}
    with tracer.start_as_current_span(
        name, attributes=clean, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as exc:
            current.set_attribute("error.type", type(exc).__name__)
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
