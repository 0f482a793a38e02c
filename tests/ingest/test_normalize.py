from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from warroom.config import Settings
from warroom.ingest.normalize import AlertRecord, fingerprint, group_key, instant, service_of


def test_fingerprint_matches_alertmanager() -> None:
    # read back from a real Alertmanager 0.25 (GET /api/v2/alerts) after posting these labels
    labels = {
        "alertname": "HighErrorRatio",
        "namespace": "shop",
        "service": "checkout",
        "severity": "critical",
        "instance": "checkout.shop.svc:8080",
        "job": "checkout",
    }
    assert fingerprint(labels) == "2c521cb91b2cea33"
    assert fingerprint(dict(reversed(labels.items()))) == "2c521cb91b2cea33"
    assert fingerprint({}) == "cbf29ce484222325"  # FNV-1a offset basis: the empty label set


def record(**labels: str) -> AlertRecord:
    return AlertRecord("fp1", "firing", labels, {}, datetime(2026, 1, 1, tzinfo=UTC), None, "", "t")


def test_group_key_takes_the_first_complete_label_set() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert group_key(record(namespace="a", service="b", job="j"), settings) == (
        "namespace=a,service=b"
    )
    assert group_key(record(namespace="a", alertname="X"), settings) == "namespace=a,alertname=X"
    assert group_key(record(namespace="a", service="", job="j"), settings) == "job=j"
    assert group_key(record(instance="i"), settings) == "fingerprint=fp1"


def test_instants_are_utc_and_clamped() -> None:
    plus_one = timezone(timedelta(hours=1))
    assert instant(datetime(2026, 1, 1, 1, tzinfo=plus_one)) == datetime(2026, 1, 1, tzinfo=UTC)
    assert instant(datetime(1, 1, 1, tzinfo=plus_one)) == datetime.min.replace(tzinfo=UTC)
    assert instant(datetime(2026, 1, 1)).tzinfo is UTC


def test_the_service_is_read_from_the_labels_other_setups_name_it_by() -> None:
    assert service_of({"service": "cart", "app": "shop"}) == "cart"
    assert service_of({"service_name": "cart", "job": "otel-collector"}) == "cart"
    assert service_of({"app_kubernetes_io_name": "cart", "job": "kubelet"}) == "cart"
    assert service_of({"alertname": "HighLatency"}) == ""



# kube-prometheus' KubePodCrashLooping as Alertmanager sends it: kube-state-metrics scraped with
# honorLabels keeps the subject's namespace, pod and container; the scrape adds its own Service
_CRASH_LOOP = {"alertname": "KubePodCrashLooping", "namespace": "shop",
               "pod": "checkout-7f9dd8b6c4-x7gr9", "container": "checkout",
               "job": "kube-state-metrics", "service": "prometheus-kube-state-metrics",
               "endpoint": "http", "instance": "10.244.0.11:8080", "severity": "warning"}


def test_an_alert_from_an_object_exporter_is_grouped_and_named_by_its_subject() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert service_of(_CRASH_LOOP) == ""  # no service label of its own, not the exporter's
    # not one incident for every pod kube-state-metrics reports on in the namespace
    assert group_key(record(**_CRASH_LOOP), settings) == (
        "namespace=shop,alertname=KubePodCrashLooping")
    hpa = {**_CRASH_LOOP, "alertname": "KubeHpaMaxedOut", "horizontalpodautoscaler": "cart",
           "pod": "prometheus-kube-state-metrics-6d4b8c7f9-abcde"}
    assert service_of(hpa) == ""  # the pod is the exporter's: not a workload of the app
    assert service_of({**hpa, "deployment": "cart"}) == "cart"
    # an application's own alert keeps its Service
    assert service_of({"service": "checkout", "pod": "checkout-7f9dd8b6c4-x7gr9",
                       "job": "checkout"}) == "checkout"
