"""OpenTelemetry `gen_ai.*` spans of every model run, through pydantic-ai's instrumentation.

There is one tracer provider and one OTLP exporter per process, installed by
`warroom.observe.tracing` when `otlp_traces_endpoint` is set (Langfuse, Jaeger and any OTLP/HTTP
collector read it); model runs are spans in the same traces as the webhook, the workflow and
the agent turns. `llm_otlp_endpoint` is a deprecated alias (see `Settings`).
"""

from __future__ import annotations

from typing import Any

from warroom.config import Settings
from warroom.observe.tracing import configure_tracing as install

_configured = False


def configure_tracing(settings: Settings, *, tracer_provider: Any = None) -> bool:
    """Instrument every agent once, on the process's tracer provider (or `tracer_provider`);
    return whether model runs are traced."""
    global _configured
    if _configured:
        return True
    if tracer_provider is None:
        if not install(settings):  # no endpoint, and nothing else installed a provider
            return False
    # lazy: cold import cost (python -X importtime): pydantic_ai ~1480 ms; kept off the module's
    # import path
    from pydantic_ai import Agent
    from pydantic_ai.models.instrumented import InstrumentationSettings

    # tracer_provider None: the global one, which observe.tracing installed
    Agent.instrument_all(InstrumentationSettings(
        tracer_provider=tracer_provider, include_content=settings.llm_trace_content,
        include_binary_content=False))
    _configured = True
    return True


def reset_tracing() -> None:
    """Stop instrumenting agents (tests)."""
    global _configured
    # lazy: cold import cost (python -X importtime): pydantic_ai ~1480 ms; kept off the module's
    # import path
    from pydantic_ai import Agent

    Agent.instrument_all(False)
    _configured = False
