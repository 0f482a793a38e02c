"""Localisation: what alerts point at, and how plausible a place is relative to them."""

from __future__ import annotations

from warroom.agents.diagnostician import rules
from warroom.agents.diagnostician.anomaly import place_of
from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.logs import dns_entity
from warroom.agents.diagnostician.topology import Graph, alert_entities, relation
from warroom.sensors.mesh import calls
from warroom.sensors.models import Series

from .diag_builders import (
    alert,
    deployment,
    flat,
    node,
    pod,
    series,
    snapshot,
    statefulset,
    stepped,
)


def test_alerts_resolve_to_workloads_nodes_and_volumes() -> None:
    ix = Index.build(snapshot(objects=[*deployment("shop", "cart"), statefulset("data", "pg"),
                                       node("n1")]))
    got = alert_entities(ix, [
        alert({"namespace": "shop", "pod": "cart-7f9dd8b6c4-aaaaa"}),
        alert({"node": "n1"}),
        alert({"namespace": "data", "persistentvolumeclaim": "data-pg-0"}),
        alert({"namespace": "shop", "horizontalpodautoscaler": "cart"})])
    assert got == [("shop", "cart"), ("", "n1"), ("data", "pg")]


def test_relation_prefers_the_dependency_chain_below_the_alert() -> None:
    objects = [*deployment("web", "frontend"), *deployment("shop", "orders"),
               *deployment("shop", "reports"), statefulset("data", "orders-db"), node("n9"),
               pod("shop", "orders-7f9dd8b6c4-aaaaa", ("ReplicaSet", "orders-7f9dd8b6c4"),
                   node="n9")]
    ix = Index.build(snapshot(objects=objects, topology=[
        ("frontend", "orders"), ("orders", "orders-db"), ("reports", "orders-db")]))
    g = Graph.build(ix, "web")
    alerts = [("web", "frontend")]
    reach = g.downstream(alerts)
    assert reach[("data", "orders-db")] == 2
    dns = dns_entity(ix)
    assert relation(ix, g, ("data", "orders-db"), alerts, reach, dns)[0] == 1.0
    assert relation(ix, g, ("", "n9"), alerts, reach, dns)[0] == 1.0
    assert relation(ix, g, ("shop", "reports"), alerts, reach, dns)[0] < 0.7
    assert g.above(("data", "orders-db")) == {("shop", "orders"), ("shop", "reports"),
                                               ("web", "frontend")}


def test_kube_state_metrics_alerts_are_about_the_workload_they_name() -> None:
    ix = Index.build(snapshot(objects=[*deployment("ops", "state-exporter"),
                                       *deployment("ledger", "books")]))
    got = alert_entities(ix, [alert({
        "job": "kube-state-metrics", "namespace": "ledger", "deployment": "books",
        "service": "state-exporter", "pod": "state-exporter-7f9dd8b6c4-aaaaa"})])
    assert got == [("ledger", "books")]
    # a Job named by kube-state-metrics' job_name label, namespace read from the Job object
    ix = Index.build(snapshot(objects=[{"kind": "Job", "metadata": {
        "name": "nightly-export", "namespace": "batch"}}]))
    assert alert_entities(ix, [alert({"job_name": "nightly-export"})]) == [
        ("batch", "nightly-export")]


def test_an_object_exporters_alert_is_about_its_subject_not_the_exporters_service() -> None:
    # kube-prometheus' alerts on kube-state-metrics and cAdvisor series carry the scrape's
    # Service, endpoint and instance beside the subject's pod (and, beside a workload or an
    # autoscaler, the exporter's own pod)
    ix = Index.build(snapshot(objects=[*deployment("shop", "checkout")]))
    scrape = {"job": "kube-state-metrics", "service": "prometheus-kube-state-metrics",
              "endpoint": "http", "instance": "10.244.0.11:8080", "namespace": "shop"}
    own_pod = {"pod": "prometheus-kube-state-metrics-6d4b8c7f9-abcde",
               "container": "kube-state-metrics"}
    got = alert_entities(ix, [
        alert({**scrape, "pod": "checkout-7f9dd8b6c4-x7gr9", "container": "checkout"}),
        alert({**scrape, **own_pod, "horizontalpodautoscaler": "checkout"}),
        alert({**scrape, "job": "kubelet", "service": "kubelet", "pod": "checkout-7f9dd8b6c4-k2x9q",
               "container": "checkout", "metrics_path": "/metrics/cadvisor"})])
    assert got == [("shop", "checkout")]  # all three, once


def test_an_alert_is_about_the_scrape_target_its_series_are_placed_by() -> None:
    # a plain Prometheus names a service by its job; the alert on it also names the
    # application both belong to, which is no place of its own
    ix = Index.build(snapshot(series=[
        series("http_requests_error_ratio", flat(0.01), job="cart", instance="10.0.0.7:8080"),
        series("http_requests_error_ratio", flat(0.01), job="payments")]))
    def about(labels: dict[str, str]) -> list[tuple[str, str]]:
        return alert_entities(ix, [alert({**labels, "application": "shop"})])

    assert about({"job": "cart", "instance": "10.0.0.7:8080"}) == [("", "cart")]
    # an instance names the target its series are placed by
    assert about({"instance": "10.0.0.7:8080"}) == [("", "cart")]
    # a job no series is placed by is nothing known
    assert about({"job": "prometheus"}) == [("", "shop")]


def test_an_alert_is_about_the_place_its_series_name_by_any_place_label() -> None:
    # a series placed by `app`, `function_name`, `dbinstance_identifier` or OpenTelemetry's
    # `service_name` is about that place; an alert carrying the same label is about it too,
    # not about the Argo CD application both belong to
    ix = Index.build(snapshot())
    got = alert_entities(ix, [
        alert({"namespace": "shop", "app": "cart", "application": "shop-apps"}),
        alert({"function_name": "resize-images"}),
        alert({"dbinstance_identifier": "orders-prod", "application": "billing"}),
        alert({"namespace": "shop", "service_name": "checkout"})])
    assert got == [("shop", "cart"), ("", "resize-images"), ("", "orders-prod"),
                   ("shop", "checkout")]


def _istio(caller: str, callee: str, code: str, rates: list[float]) -> Series:
    """A mesh's counter of one caller's requests to a callee answered with `code`, as the
    caller's proxy reports it (scraped from the caller's pod)."""
    total, counts = 0.0, []
    for r in rates:
        total += r * 60
        counts.append(total)
    return series("istio_requests_total", counts, reporter="source",
                  source_workload=caller, source_workload_namespace="shop",
                  destination_workload=callee, destination_workload_namespace="shop",
                  response_code=code, response_flags="-", pod=f"{caller}-7f9dd8b6c4-aaaaa")


def test_an_slo_tools_burn_rate_alert_is_about_the_service_its_labels_name() -> None:
    ix = Index.build(snapshot(series=[
        series("service:errors:ratio_rate1m", flat(0.0), namespace="shop", service=svc)
        for svc in ("cart", "cart-api", "orders")]))
    sloth = alert({"sloth_service": "cart", "sloth_slo": "requests-availability"})
    sloth_id_only = alert({"sloth_id": "orders-requests-availability", "sloth_slo": "x"})
    # Pyrra names the SLO object after the service: the longest known place it begins with
    pyrra = alert({"slo": "cart-api-availability", "namespace": "shop", "long": "1h"})
    assert alert_entities(ix, [sloth, sloth_id_only, pyrra]) == [
        ("shop", "cart"), ("shop", "orders"), ("shop", "cart-api")]
    # a value that names nothing known places nothing
    assert alert_entities(ix, [alert({"slo": "payments-availability"})]) == []


def test_an_alert_placed_nowhere_still_ranks_what_moved_before_nothing_is_wrong() -> None:
    # labels that name no place warroom knows (a tool's own keys): the place whose errors
    # jumped is the best hypothesis, not "nothing is wrong" about no place
    calm = [series("service:errors:ratio_rate1m", flat(0.0), namespace="shop", service=svc)
            for svc in ("frontend", "cart")]
    broken = series("service:errors:ratio_rate1m", stepped(0.0, 0.3), namespace="shop",
                    service="orders")
    report = rules.diagnose_snapshot(snapshot(
        series=[*calm, broken], topology=[("frontend", "orders"), ("frontend", "cart")],
        alerts=[alert({"slo_name": "checkout-journey", "tier": "1"})]))
    top = report.hypotheses[0]
    assert (top.service, top.fault) == ("orders", "application_error")
    # with nothing moved anywhere, it is still "nothing is wrong"
    quiet = rules.diagnose_snapshot(snapshot(
        series=calm, alerts=[alert({"slo_name": "checkout-journey"})]))
    assert quiet.hypotheses[0].fault == "none"


def test_a_probe_is_about_the_endpoint_it_probes_not_the_prober() -> None:
    # the blackbox exporter's target is relabelled as `instance`: a URL, never host:port
    ix = Index.build(snapshot(objects=[*deployment("shop", "checkout")], series=[
        series("probe_success", flat(1.0), job="blackbox", namespace="monitoring",
               instance="http://checkout.shop.svc.cluster.local:8080/healthz"),
        series("probe_success", flat(1.0), job="blackbox", instance="https://api.stripe.com")]))
    assert [place_of(ix, s) for s in ix.snapshot.series] == [
        ("shop", "checkout"), ("", "api.stripe.com")]
    probe = {"alertname": "ProbeFailed", "job": "blackbox", "namespace": "monitoring"}
    assert alert_entities(ix, [alert({**probe, "instance": "http://checkout:8080/healthz"}),
                               alert({**probe, "instance": "https://api.stripe.com/v1"})]) == [
        ("shop", "checkout"), ("", "api.stripe.com")]
    # a scraped target (host:port) is still the job's
    assert alert_entities(ix, [alert({"job": "checkout", "instance": "10.0.0.7:8080"})]) == [
        ("shop", "checkout")]


def test_a_mesh_alone_locates_a_failure_three_calls_below_the_entry() -> None:
    # entry -> a -> b -> c, with no call graph but the mesh's: c fails from minute 30 and every
    # caller above it passes a little less of the failure on
    world: list[Series] = []
    for (caller, callee), share in zip(
            [("unknown", "entry"), ("entry", "a"), ("a", "b"), ("b", "c")],
            (0.15, 0.2, 0.25, 0.3), strict=True):
        world.append(_istio(caller, callee, "200", [10.0] * 30 + [10 * (1 - share)] * 10))
        world.append(_istio(caller, callee, "503", [0.0] * 30 + [10 * share] * 10))
    found = calls(world)
    assert found == [("entry", "a"), ("a", "b"), ("b", "c")]
    report = rules.diagnose_snapshot(snapshot(series=world, topology=found, alerts=[alert(
        {"destination_workload": "entry", "destination_workload_namespace": "shop"})]))
    top = report.hypotheses[0]
    assert (top.namespace, top.service, top.fault) == ("shop", "c", "application_error")
