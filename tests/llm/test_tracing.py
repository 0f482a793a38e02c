from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel

from warroom.config import Settings
from warroom.llm.service import ModelRuntime
from warroom.llm.tracing import configure_tracing, reset_tracing


class Word(BaseModel):
    summary: str


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    configure_tracing(Settings(_env_file=None), tracer_provider=provider)  # type: ignore[call-arg]
    yield exporter
    reset_tracing()


async def test_every_model_run_emits_gen_ai_spans(spans: InMemorySpanExporter) -> None:
    runtime = ModelRuntime(Settings(_env_file=None, llm_model="test:bogus"))  # type: ignore[call-arg]
    output, turn = await runtime.ask(role="summary", mode="summary", instructions="i",
                                     prompt="role: summary", output_type=Word,
                                     evidence_digest="d")
    assert output is not None
    attributes = [dict(s.attributes or {}) for s in spans.get_finished_spans()]
    assert any(a.get("gen_ai.request.model") == "test:bogus" for a in attributes), attributes
    assert any("gen_ai.usage.input_tokens" in a for a in attributes)
    assert not any("role: summary" in str(a) for a in attributes), "no content by default"


def test_an_endpoint_without_the_extra_says_what_to_install() -> None:
    from warroom.llm import tracing

    try:
        import opentelemetry.exporter.otlp  # noqa: F401
    except ImportError:
        with pytest.raises(tracing.TracingError, match="warroom\\[tracing\\]"):
            configure_tracing(Settings(  # type: ignore[call-arg]
                _env_file=None, llm_otlp_endpoint="http://127.0.0.1:4318"))
    else:
        assert configure_tracing(Settings(  # type: ignore[call-arg]
            _env_file=None, llm_otlp_endpoint="http://127.0.0.1:4318"))
        reset_tracing()
