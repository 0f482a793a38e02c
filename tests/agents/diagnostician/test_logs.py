"""Log evidence: categories, and whether a line blames its own pod or the dependency it names."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.logs import (
    _ERRORISH,
    _WORTH,
    _on_lowered,
    classify,
    collect,
    dns_entity,
    line_time,
)
from warroom.agents.diagnostician.templates import ERROR_LINE, is_error_line

from .diag_builders import NOW, deployment, flat, logs, series, snapshot, statefulset


def test_classify_reads_the_failure_kind() -> None:
    assert classify("ERROR dial tcp: lookup orders on 10.96.0.10:53: no such host") == ["dns"]
    assert "tls" in classify("ERROR x509: certificate has expired or is not yet valid")
    assert classify("ERROR HikariPool-1 - Connection is not available, request timed out")[0] \
        == "pool"
    assert classify("INFO GET /healthz 200") == []
    # an exception a framework handled at WARN level is not a failure
    assert "exception" not in classify(
        "WARN Resolved [org.springframework.web.HttpMediaTypeNotAcceptableException]")
    assert "exception" in classify("ERROR Unhandled exception: java.lang.NullPointerException")


def test_line_time_reads_iso_and_epoch_millis() -> None:
    assert line_time("2026-03-01T11:58:00.123Z ERROR boom") is not None
    assert line_time('{"level":50,"time":1772366280000,"msg":"x"}') is not None
    assert line_time("no time here") is None


def test_failures_are_attributed_to_the_dependency_they_name() -> None:
    snap = snapshot(objects=[*deployment("shop", "orders"), statefulset("data", "orders-db")],
                    topology=[("orders", "orders-db")],
                    logs=[logs("shop", "orders-7f9dd8b6c4-aaaaa", [
                        "ERROR call to orders-db failed: HikariPool-1 - Connection is not "
                        "available",
                        'ERROR upstream call failed peer=api.stripe.com: Post '
                        '"https://api.stripe.com/v1": context deadline exceeded'])])
    ev = collect(Index.build(snap))
    assert "pool" in ev.about[("data", "orders-db")]
    assert "timeout" in ev.about[("", "api.stripe.com")]
    assert not ev.own.get(("shop", "orders"))


def test_chronic_lines_before_the_onset_do_not_count() -> None:
    t = [(NOW - timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ") for m in (40, 30, 20, 5)]
    lines = [f"{x} ERROR Unhandled exception: KeyError 'currency'" for x in t]
    snap = snapshot(objects=deployment("shop", "cart"),
                    logs=[logs("shop", "cart-7f9dd8b6c4-aaaaa", lines)])
    since = NOW - timedelta(minutes=10)
    assert not collect(Index.build(snap), since=since).own.get(("shop", "cart"))
    fresh = snapshot(objects=deployment("shop", "cart"),
                     logs=[logs("shop", "cart-7f9dd8b6c4-aaaaa", lines[-1:] * 3)])
    assert collect(Index.build(fresh), since=since).own[("shop", "cart")]["exception"]


def test_pool_errors_that_name_no_database_go_to_the_one_it_calls() -> None:
    from warroom.agents.diagnostician.logs import log_findings

    snap = snapshot(objects=[*deployment("shop", "orders"), statefulset("data", "orders-db")],
                    topology=[("orders", "orders-db"), ("orders", "payments")],
                    logs=[logs("shop", "orders-7f9dd8b6c4-aaaaa", [
                        "ERROR pq: sorry, too many clients already"] * 2)])
    ix = Index.build(snap)
    found = {(f.service, f.fault) for f in log_findings(ix, collect(ix))}
    assert ("orders-db", "database_saturation") in found


def test_the_dns_service_is_found_by_its_series_without_kubernetes_objects() -> None:
    snap = snapshot(series=[series("service:errors:ratio_rate1m", flat(0.01, 10),
                                   namespace="", service="coredns_AWS::ECS::Service")])
    assert dns_entity(Index.build(snap)) == ("", "coredns_AWS::ECS::Service")
    assert dns_entity(Index.build(snapshot())) == ("kube-system", "coredns")


def test_one_workload_failing_to_resolve_a_name_is_suspected_before_an_unseen_resolver() -> None:
    from warroom.agents.diagnostician.logs import log_findings

    line = "curl: (6) Could not resolve host: reports.example.invalid"
    assert "dns" in classify(line)
    snap = snapshot(objects=[*deployment("batch", "exporter")],
                    logs=[logs("batch", "exporter-7f9dd8b6c4-aaaaa", [line])])
    ix = Index.build(snap)
    found = {(f.service, f.fault): f.weight for f in log_findings(ix, collect(ix))}
    assert found[("exporter", "dns_failure")] > found[("coredns", "dns_failure")]
    # two workloads failing to resolve point at the resolver itself
    snap = snapshot(objects=[*deployment("batch", "exporter"), *deployment("batch", "loader")],
                    logs=[logs("batch", "exporter-7f9dd8b6c4-aaaaa", [line]),
                          logs("batch", "loader-7f9dd8b6c4-aaaaa", [line])])
    ix = Index.build(snap)
    found = {(f.service, f.fault): f.weight for f in log_findings(ix, collect(ix))}
    assert ("coredns", "dns_failure") in found and ("exporter", "dns_failure") not in found


_WORDS = ["Error", "ERR", "warn", "FATAL", "crit", "severe", "Panic:", "exception", "Traceback",
          "failed", "refused", "timed out", "time out", "TIMEOUT", "unavailable", "denied",
          "could not", "couldn't resolve", "cannot", "unable to", "Not Known", "ENOTFOUND",
          '"level": 50', '"level":"error"', "GC overhead", "still growing", "heap in use",
          "ok", "GET", "/items", "200", "user", "-", ":", " "]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=8).map(" ".join))
def test_the_cheap_word_tests_never_drop_a_line_the_patterns_would_take(line: str) -> None:
    # the substring words are a first test only: every line a pattern takes must pass them
    assert is_error_line(line) == bool(ERROR_LINE.search(line))
    if _ERRORISH.search(line):
        assert any(w in line.lower() for w in _WORTH)



def test_a_pattern_for_lowered_lines_keeps_its_escapes() -> None:
    pat = _on_lowered(r"Failed to parse \S+ on \W?NXDOMAIN\b|HTTP \d{3}")
    assert pat.pattern == r"failed to parse \S+ on \W?nxdomain\b|http \d{3}"
    assert pat.search("error: failed to parse config.yaml on nxdomain")
    assert not pat.search("error: failed to parse  on nxdomain")  # \S+ still needs a word
