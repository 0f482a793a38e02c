"""The cluster's state read from kube-state-metrics gauges, with no API object in the evidence."""

from __future__ import annotations

from warroom.agents.diagnostician import diagnose_snapshot
from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.kubestate import rollouts_from_generations
from warroom.agents.models import DiagnosisReport
from warroom.sensors.models import Series

from .diag_builders import alert, change, flat, series, snapshot, stepped

POD = "cart-7f9dd8b6c4-x2bnp"


def top(report: DiagnosisReport) -> tuple[str, str, str]:
    h = report.hypotheses[0]
    return (h.namespace, h.service, h.fault)


def diagnose(*state: Series, errors: float = 0.004) -> DiagnosisReport:
    """Diagnose a checkout calling cart, the alert on checkout, with cart's state gauges."""
    golden = [series("service:errors:ratio_rate1m", stepped(0.004, errors), namespace="shop",
                     service="cart"),
              series("service:errors:ratio_rate1m", flat(0.004), namespace="shop",
                     service="checkout"),
              series("service:latency_seconds:p99_1m", stepped(0.3, 0.6), namespace="shop",
                     service="checkout")]
    return diagnose_snapshot(snapshot(series=[*golden, *state],
                                      topology=[("checkout", "cart")],
                                      alerts=[alert({"alertname": "HighLatencyP99",
                                                     "namespace": "shop",
                                                     "service": "checkout"})]))


def gauge(name: str, values: list[float], **labels: str) -> Series:
    return series(name, values, namespace="shop", pod=POD, **labels)


SET = [0.0] * 30 + [1.0] * 10


def test_a_container_waiting_on_its_image_is_an_image_pull_error() -> None:
    report = diagnose(gauge("kube_pod_container_status_waiting_reason", SET,
                            container="cart", reason="ImagePullBackOff"))
    assert top(report) == ("shop", "cart", "image_pull_error")
    # a reason that names no fault, or a gauge cleared by now, names nothing
    assert top(diagnose(gauge("kube_pod_container_status_waiting_reason", SET,
                              container="cart", reason="ContainerCreating")))[2] != \
        "image_pull_error"
    assert top(diagnose(gauge("kube_pod_container_status_waiting_reason", SET[::-1],
                              container="cart", reason="ErrImagePull")))[2] != \
        "image_pull_error"


def test_a_gauge_scraped_without_honour_labels_is_about_its_subject() -> None:
    # the scrape's target (kube-state-metrics' own pod and Service) keeps the plain labels
    scraped = series("kube_pod_container_status_waiting_reason", SET, exported_namespace="shop",
                     exported_pod=POD, container="cart", reason="ErrImagePull",
                     namespace="monitoring", pod="kube-state-metrics-6d4b9c7f8-qwz7k",
                     service="kube-state-metrics", job="kube-state-metrics",
                     instance="10.0.3.7:8080")
    assert top(diagnose(scraped)) == ("shop", "cart", "image_pull_error")


def test_a_pod_no_node_can_take_is_unschedulable() -> None:
    report = diagnose(gauge("kube_pod_status_scheduled", SET, condition="false"))
    assert top(report) == ("shop", "cart", "unschedulable")


def test_a_running_pod_that_stopped_being_ready_fails_its_probe() -> None:
    ready_false = gauge("kube_pod_status_ready", SET, condition="false")
    assert top(diagnose(ready_false, errors=0.08)) == ("shop", "cart", "probe_failure")
    # never ready in the whole window: an old state, not what changed now
    always = gauge("kube_pod_status_ready", [1.0] * 40, condition="false")
    assert top(diagnose(always, errors=0.08))[2] != "probe_failure"


def test_a_generation_bump_is_read_as_a_rollout_once() -> None:
    gen = series("kube_deployment_metadata_generation", [4.0] * 25 + [5.0] * 15,
                 namespace="shop", deployment="cart")
    ix = Index.build(snapshot(series=[gen]))
    [rollout] = rollouts_from_generations(ix, [])
    assert (rollout.kind, rollout.target) == ("deploy", "shop/deployment/cart")
    assert "generation 4 -> 5" in rollout.description
    # the feed already has it (within minutes): not read twice
    recorded = change("deploy", "shop/deployment/cart", 15, "image cart:1.4 -> 1.5")
    assert rollouts_from_generations(ix, [recorded]) == []
