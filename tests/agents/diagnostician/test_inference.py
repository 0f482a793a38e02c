"""A call graph inferred when the snapshot carries none: sinks and the unmapped walk."""

from __future__ import annotations

from warroom.agents.diagnostician import rules

from .diag_builders import alert, flat, series, snapshot


def _step(level: float, to: float, at: int) -> list[float]:
    return [v if i < at else to * (1 + 0.01 * ((i * 3) % 3 - 1))
            for i, v in enumerate(flat(level))]


def test_a_data_store_moving_with_a_caller_is_the_callee_of_the_link() -> None:
    # both slow from the same minute, nothing else moved: the link has no direction of its
    # own, but a table calls none of the services it is linked to
    world = [series("service:latency_seconds:p99_1m", _step(0.2, 1.4, 31), namespace="",
                    service="entry"),
             series("service:latency_seconds:p99_1m", _step(0.05, 1.1, 31), namespace="",
                    service="orders_AWS::DynamoDB::Table")]
    report = rules.diagnose_snapshot(snapshot(series=world,
                                              alerts=[alert({"service": "entry"})]))
    top = report.hypotheses[0]
    assert (top.service, top.fault) == ("orders_AWS::DynamoDB::Table", "database_saturation")


def test_without_a_call_graph_a_quiet_alert_over_a_failing_place_is_not_nothing_wrong() -> None:
    world = [series("service:errors:ratio_rate1m", flat(0.002), namespace="", service="entry"),
             series("service:latency_seconds:p99_1m", flat(0.2), namespace="", service="entry"),
             series("service:errors:ratio_rate1m", _step(0.002, 0.3, 31), namespace="",
                    service="contacts")]
    report = rules.diagnose_snapshot(snapshot(series=world,
                                              alerts=[alert({"service": "entry"})]))
    top = report.hypotheses[0]
    assert (top.service, top.fault) == ("contacts", "application_error")
    assert "no topology to localise with" in top.evidence[-1]
