"""Traces as evidence: the place owning the traced time, and where errors up a trace began."""

from __future__ import annotations

from datetime import timedelta

from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.rules import diagnose_snapshot
from warroom.agents.diagnostician.topology import Graph
from warroom.agents.diagnostician.traces import (
    error_chain_findings,
    error_order_edges,
    error_traces,
    nesting_edges,
    trace_events,
    trace_findings,
)
from warroom.sensors.models import AlertView, Document, EvidenceSnapshot

from .diag_builders import NOW, logs, snapshot


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


def _line(minutes_ago: float, trace: str, text: str) -> str:
    at = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    return f"{at}Z ERROR  TraceID: {trace} SpanID: 0f0e {text}"


def chain_snapshot(depth_first: bool) -> EvidenceSnapshot:
    """Errors of one request at a callee and its caller, in each of three traces."""
    callee, caller, chatty = [], [], []
    for i, trace in enumerate(("a1b2c3d4e5f6a7b8c9d0", "b2c3d4e5f6a7b8c9d0e1",
                               "c3d4e5f6a7b8c9d0e1f2")):
        first, then = (callee, caller) if depth_first else (caller, callee)
        first.append(_line(5 - i, trace, "lookup returned nothing"))
        then.append(_line(5 - i - 0.01, trace, "request processing failed"))
        # a chronic error of a third place, alone in its own traces: not a chain
        chatty.append(_line(5 - i, f"ffff{trace}", "cache result is null"))
    return snapshot(logs=[logs("shop", "contacts-7f9dd8b6c4-aaaaa", callee),
                          logs("shop", "booking-7f9dd8b6c4-bbbbb", caller),
                          logs("shop", "menu-7f9dd8b6c4-ccccc", chatty)],
                    topology=[("gateway", "booking"), ("booking", "contacts"),
                              ("gateway", "menu")])


def test_an_error_that_travelled_up_the_trace_names_where_it_began() -> None:
    snap = chain_snapshot(depth_first=True)
    ix = Index.build(snap)
    (f,) = error_chain_findings(error_traces(ix), Graph.build(ix, "shop"))
    assert (f.service, f.fault) == ("contacts", "application_error")
    assert "in 3 traces" in f.evidence and "booking" in f.evidence


def test_a_caller_failing_first_is_no_chain_from_its_callee() -> None:
    snap = chain_snapshot(depth_first=False)
    ix = Index.build(snap)
    assert error_chain_findings(error_traces(ix), Graph.build(ix, "shop")) == []


def _unmapped(snap: EvidenceSnapshot) -> EvidenceSnapshot:
    return snap.model_copy(update={"topology": []})


def test_the_order_of_errors_in_traces_says_who_calls_whom() -> None:
    ix = Index.build(_unmapped(chain_snapshot(depth_first=True)))
    assert error_order_edges(error_traces(ix)) == [(("shop", "booking"), ("shop", "contacts"))]
    # the caller failing first says the opposite; a place alone in its traces says nothing
    ix = Index.build(_unmapped(chain_snapshot(depth_first=False)))
    assert error_order_edges(error_traces(ix)) == [(("shop", "contacts"), ("shop", "booking"))]


def test_one_trace_or_errors_at_the_same_instant_infer_no_link() -> None:
    at = _line(3, "d4e5f6a7b8c9d0e1f2a3", "failed")
    trace = "e5f6a7b8c9d0e1f2a3b4"
    once = snapshot(logs=[logs("shop", "contacts-7f9dd8b6c4-aaaaa", [_line(4, trace, "gone")]),
                          logs("shop", "booking-7f9dd8b6c4-bbbbb", [_line(3.9, trace, "failed")])])
    assert error_order_edges(error_traces(Index.build(once))) == []
    twice = snapshot(logs=[logs("shop", "contacts-7f9dd8b6c4-aaaaa", [at, at]),
                           logs("shop", "booking-7f9dd8b6c4-bbbbb", [at, at])])
    assert error_order_edges(error_traces(Index.build(twice))) == []


def test_without_a_call_graph_the_error_order_finds_the_callee_below_the_alert() -> None:
    snap = _unmapped(chain_snapshot(depth_first=True)).model_copy(update={"alerts": [
        AlertView(status="firing", labels={"alertname": "HighErrorRate", "namespace": "shop",
                                           "service": "booking"},
                  starts_at=NOW - timedelta(minutes=6))]})
    top = diagnose_snapshot(snap).hypotheses[0]
    assert (top.service, top.fault) == ("contacts", "application_error")


def _request(trace: str, minutes_ago: float, visits: list[tuple[str, float]]
             ) -> dict[str, list[str]]:
    """One request's lines: (place, seconds after the first line) in the order logged."""
    out: dict[str, list[str]] = {}
    for who, after in visits:
        at = NOW - timedelta(minutes=minutes_ago) + timedelta(seconds=after)
        out.setdefault(who, []).append(
            f"{at:%Y-%m-%dT%H:%M:%S.%f}Z INFO TraceID: {trace} SpanID: 0f0e step")
    return out


def _nested(requests: list[dict[str, list[str]]]) -> EvidenceSnapshot:
    lines: dict[str, list[str]] = {}
    for req in requests:
        for who, found in req.items():
            lines.setdefault(who, []).extend(found)
    return snapshot(logs=[logs("shop", f"{who}-7f9dd8b6c4-aaaaa", sorted(found))
                          for who, found in sorted(lines.items())])


# the gateway calls orders, which calls the ledger; then the gateway calls auth; the mailer is
# called last, and the gateway logs nothing after it
CHECKOUT = [("gateway", 0.0), ("orders", 0.01), ("ledger", 0.02), ("ledger", 0.03),
            ("orders", 0.04), ("gateway", 0.05), ("auth", 0.06), ("gateway", 0.07),
            ("mailer", 0.08)]


def test_lines_nested_in_a_callers_lines_say_who_calls_whom() -> None:
    ix = Index.build(_nested([_request(f"{i:032x}", 10 - i, CHECKOUT) for i in range(2)]))
    edges = {(a[1], b[1]) for a, b in nesting_edges(trace_events(ix))}
    # the tightest enclosing place is the direct caller: not the gateway for the ledger;
    # siblings called one after the other (orders, auth) never enclose each other, and a
    # callee its caller logged nothing after (the mailer) gets no link
    assert edges == {("gateway", "orders"), ("orders", "ledger"), ("gateway", "auth")}


def test_nesting_seen_more_often_the_other_way_is_no_link() -> None:
    upside = [("orders", 0.0), ("gateway", 0.01), ("orders", 0.02)]
    ix = Index.build(_nested([_request(f"{i:032x}", 10 - i, CHECKOUT) for i in range(2)]
                             + [_request(f"{9 + i:032x}", 5 - i, upside) for i in range(2)]))
    edges = {(a[1], b[1]) for a, b in nesting_edges(trace_events(ix))}
    assert ("gateway", "orders") not in edges and ("orders", "gateway") not in edges
