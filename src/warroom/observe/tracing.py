"""OpenTelemetry tracing: one tracer provider per process, exported over OTLP/HTTP when an
endpoint is configured, nothing at all when not.

Spans follow an incident from the webhook to verification: the ingest request, the enqueue of
its workflow (parented to the webhook that changed the incident), then in the worker the DBOS
workflow and step spans (DBOS's own tracing, switched on whenever a tracer provider is
installed), the sensors and every agent turn. The trace context crosses from the API to the
worker process inside the workflow's DBOS attributes, so one trace covers both processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    INVALID_SPAN,
    NoOpTracerProvider,
    ProxyTracerProvider,
    Span,
    SpanContext,
)

from warroom.config import Settings

TRACER = "warroom"


def tracer() -> trace.Tracer:
    """Return warroom's tracer (a no-op until a tracer provider is installed)."""
    return trace.get_tracer(TRACER)


def configure_tracing(settings: Settings) -> bool:
    """Install the OTLP/HTTP exporter when `otlp_traces_endpoint` is set; once per process.

    Returns whether spans are recorded in this process, which is also true when something
    else (a test, `opentelemetry-instrument`) installed a tracer provider first.
    """
    if settings.otlp_traces_endpoint and not tracing_active():
        # lazy: cold import cost (python -X importtime): opentelemetry sdk + OTLP exporter ~250 ms;
        # kept off the module's import path
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=Resource.create({
            "service.name": settings.otel_service_name,
            "service.instance.id": settings.worker_id,
        }))
        exporter = OTLPSpanExporter(
            endpoint=settings.otlp_traces_endpoint, headers=dict(settings.otlp_headers) or None
        )
        provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
    return tracing_active()


def tracing_active() -> bool:
    """Tell whether a real tracer provider is installed in this process."""
    provider = trace.get_tracer_provider()
    return not isinstance(provider, ProxyTracerProvider | NoOpTracerProvider)


def current_span_context() -> SpanContext | None:
    """Return the active span's context when it is a real, recorded one."""
    context = trace.get_current_span().get_span_context()
    return context if context.is_valid else None


def parent_context(span_context: SpanContext | None) -> Context | None:
    """Return an OpenTelemetry context whose parent is `span_context` (None: the current one)."""
    if span_context is None:
        return None
    return trace.set_span_in_context(trace.NonRecordingSpan(span_context))


@contextmanager
def span(name: str, parent: SpanContext | None = None, /, **attributes: Any) -> Iterator[Span]:
    """Run a block in a span named `name`, under `parent` when given; errors mark the span.

    Without a tracer provider the block runs in no span at all: the no-op span would cost a
    tracer lookup and two context switches per call, on the ingest path several per webhook.
    """
    if not tracing_active():
        yield INVALID_SPAN
        return
    attrs = {k: v for k, v in attributes.items() if v is not None}
    with tracer().start_as_current_span(
        name, context=parent_context(parent), attributes=attrs
    ) as current:
        yield current
