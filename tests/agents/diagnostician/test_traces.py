"""Traces as evidence: the place owning most of the traced time, callers waiting on it excused."""

from __future__ import annotations

from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.rules import diagnose_snapshot
from warroom.agents.diagnostician.traces import trace_findings
from warroom.sensors.models import Document

from .diag_builders import snapshot


def span(depth: int, name: str, service: str, ms: float, *attrs: str) -> list[str]:
    pad = "  " * depth
    lines = [f"{pad}├─ {name} ({service}) - {ms}ms (span_id=ab{depth}{int(ms)})",
             f"{pad}│  Resource labels: k8s.namespace.name='shop' service.name='{service}'"]
    if attrs:
        lines.append(f"{pad}│  Attributes:")
        lines += [f"{pad}│    {a}" for a in attrs]
    return lines


def tree(deep_attrs: tuple[str, ...], deep_ms: float = 6800.0) -> Document:
    """Gateway -> orders -> ledger, three hops; the ledger's own work takes most of the time."""
    lines = [*span(0, "/api/checkout", "gateway", 7300.0),
             *span(1, "callout", "gateway", 7100.0, "downstream_url: http://orders:80/orders"),
             *span(2, "create_order", "orders", 7050.0),
             *span(3, "callout", "orders", 6950.0, "downstream_url: http://ledger:80/post"),
             *span(4, "post_entry", "ledger", 6900.0),
             *span(5, "work", "ledger", deep_ms, *deep_attrs),
             *span(1, "callout", "gateway", 150.0),
             *span(2, "authenticate", "auth", 140.0)]
    return Document(source="tempo", title="trace 3f0b", text="\n".join(lines))


def test_the_deepest_place_owning_the_time_is_named_and_its_callers_excused() -> None:
    doc = tree(("db.system: postgresql", "db.statement: SELECT * FROM ledger WHERE id=$1"))
    (f,) = trace_findings(Index.build(snapshot(documents=[doc])))
    assert (f.namespace, f.service, f.fault) == ("shop", "ledger", "database_saturation")
    assert "database queries" in f.evidence
    report = diagnose_snapshot(snapshot(documents=[doc]))
    top = report.hypotheses[0]
    assert (top.service, top.fault) == ("ledger", "database_saturation")
    assert all(h.service not in ("gateway", "orders") for h in report.hypotheses)


def test_slow_own_code_is_not_called_a_database_problem() -> None:
    (f,) = trace_findings(Index.build(snapshot(documents=[tree(())])))
    assert (f.service, f.fault) == ("ledger", "application_error")


def test_time_spread_over_many_places_names_none() -> None:
    lines = [*span(0, "/api", "gateway", 2000.0), *span(1, "a", "orders", 700.0),
             *span(1, "b", "ledger", 700.0)]
    doc = Document(source="tempo", title="trace", text="\n".join(lines))
    assert trace_findings(Index.build(snapshot(documents=[doc]))) == []


def test_fast_traces_say_nothing() -> None:
    lines = [*span(0, "/api", "gateway", 120.0), *span(1, "a", "orders", 100.0)]
    doc = Document(source="tempo", title="trace", text="\n".join(lines))
    assert trace_findings(Index.build(snapshot(documents=[doc]))) == []
