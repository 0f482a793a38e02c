"""OpenTelemetry `gen_ai.*` spans of every model run, through pydantic-ai's instrumentation.

Configured once per process when `llm_otlp_endpoint` is set (Langfuse, Jaeger and any OTLP/HTTP
collector read it).
"""

from __future__ import annotations

from typing import Any

from warroom.config import Settings

_configured = False


class TracingError(Exception):
    """Tracing is configured but cannot start; the message says what to install or fix."""


def configure_tracing(settings: Settings, *, tracer_provider: Any = None) -> bool:
    """Instrument every agent once; return whether spans are being sent."""
    global _configured
    if _configured:
        return True
    if tracer_provider is None:
        if not settings.llm_otlp_endpoint:
            return False
        tracer_provider = _otlp_provider(settings.llm_otlp_endpoint)
    from pydantic_ai import Agent
    from pydantic_ai.models.instrumented import InstrumentationSettings

    Agent.instrument_all(InstrumentationSettings(
        tracer_provider=tracer_provider, include_content=settings.llm_trace_content,
        include_binary_content=False))
    _configured = True
    return True


def reset_tracing() -> None:
    """Stop instrumenting agents (tests)."""
    global _configured
    from pydantic_ai import Agent

    Agent.instrument_all(False)
    _configured = False


def _otlp_provider(endpoint: str) -> Any:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise TracingError("llm_otlp_endpoint is set but the OTLP exporter is not installed: "
                           "reinstall warroom") from exc
    provider = TracerProvider(resource=Resource.create({"service.name": "warroom"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
        endpoint=endpoint.rstrip("/") + "/v1/traces")))
    return provider
