"""Trace test kit: spans kept in memory in this process, and an OTLP/HTTP receiver for others."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from warroom.observe.tracing import tracing_active


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Install a tracer provider that keeps every finished span in memory, for this test only."""
    assert not tracing_active(), "another test left a tracer provider installed"
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        provider.shutdown()
        # OpenTelemetry sets the global provider once per process; tests put the default back
        # so the suite's other apps run untraced, as they would in production
        trace._TRACER_PROVIDER = None
        trace._TRACER_PROVIDER_SET_ONCE = Once()


@dataclass
class ExportedSpan:
    """One span another process exported, decoded from OTLP protobuf."""

    name: str
    service: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]


@dataclass
class OtlpCollector:
    """What an OTLP/HTTP receiver on loopback was sent."""

    endpoint: str
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def spans(self) -> list[ExportedSpan]:
        """Decode every span received so far."""
        found = []
        for body in self.bodies:
            request = ExportTraceServiceRequest.FromString(body)
            for resource in request.resource_spans:
                service = next((a.value.string_value for a in resource.resource.attributes
                                if a.key == "service.name"), "")
                for scope in resource.scope_spans:
                    for s in scope.spans:
                        attributes = {a.key: getattr(a.value, a.value.WhichOneof("value"))
                                      for a in s.attributes}
                        found.append(ExportedSpan(
                            s.name, service, s.trace_id.hex(), s.span_id.hex(),
                            s.parent_span_id.hex(), attributes))
        return found


@pytest.fixture
def otlp() -> Iterator[OtlpCollector]:
    """Receive OTLP/HTTP exports on a loopback port for the test's duration."""
    collector = OtlpCollector(endpoint="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server hook's name)
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            collector.bodies.append(body)
            collector.headers.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    collector.endpoint = f"http://127.0.0.1:{server.server_port}/v1/traces"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield collector
    finally:
        server.shutdown()
        server.server_close()
