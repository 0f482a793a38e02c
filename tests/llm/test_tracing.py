from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel

from warroom.config import Settings
from warroom.llm.service import ModelRuntime
from warroom.llm.tracing import configure_tracing, reset_tracing


class Word(BaseModel):
    summary: str


@pytest.fixture(autouse=True)
def uninstrumented() -> Iterator[None]:
    yield
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


def test_the_deprecated_alias_feeds_the_one_exporter() -> None:
    def settings(**kwargs: str) -> Settings:
        return Settings(_env_file=None, **kwargs)  # type: ignore[arg-type]

    # the old name took a base URL; the one exporter takes the traces URL
    assert settings(llm_otlp_endpoint="http://127.0.0.1:4318/").otlp_traces_endpoint == \
        "http://127.0.0.1:4318/v1/traces"
    assert settings(llm_otlp_endpoint="http://old:4318",
                    otlp_traces_endpoint="http://new:4318/v1/traces").otlp_traces_endpoint == \
        "http://new:4318/v1/traces"
    assert settings().otlp_traces_endpoint == ""


async def test_model_runs_are_spans_of_the_process_trace(spans: InMemorySpanExporter) -> None:
    from warroom.observe.tracing import span

    settings = Settings(_env_file=None, llm_model="test:bogus")  # type: ignore[call-arg]
    runtime = ModelRuntime(settings)  # instruments agents on the installed provider
    with span("warroom.agent", role="summary") as outer:
        output, _ = await runtime.ask(role="summary", mode="summary", instructions="i",
                                      prompt="role: summary", output_type=Word,
                                      evidence_digest="d")
    assert output is not None
    finished = spans.get_finished_spans()
    model_spans = [s for s in finished
                   if (s.attributes or {}).get("gen_ai.request.model") == "test:bogus"]
    assert model_spans, [s.name for s in finished]
    trace_id = outer.get_span_context().trace_id
    assert all(s.context is not None and s.context.trace_id == trace_id for s in model_spans), \
        "one exporter, one trace: the model's spans are children of the agent turn's"


def test_without_an_endpoint_nothing_is_traced() -> None:
    from warroom.observe.tracing import tracing_active

    assert not configure_tracing(Settings(_env_file=None))  # type: ignore[call-arg]
    assert not tracing_active()
