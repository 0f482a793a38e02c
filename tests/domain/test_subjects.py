"""What an object exporter's alert or series is about."""

from __future__ import annotations

from warroom.domain.subjects import subject_labels


def test_the_exporters_own_labels_go_when_it_reports_on_a_subject() -> None:
    cadvisor = {"job": "kubelet", "service": "prometheus-kube-prometheus-kubelet",
                "endpoint": "https-metrics", "instance": "10.0.0.4:10250",
                "metrics_path": "/metrics/cadvisor", "namespace": "shop",
                "pod": "cart-7f9dd8b6c4-aaaaa", "container": "cart"}
    assert subject_labels(cadvisor) == {"metrics_path": "/metrics/cadvisor", "namespace": "shop",
                                        "pod": "cart-7f9dd8b6c4-aaaaa", "container": "cart"}
    # about a workload: the pod and container beside it are the exporter's own
    ksm = {"job": "kube-state-metrics", "service": "ksm", "namespace": "shop",
           "deployment": "cart", "pod": "ksm-6d4b8c7f9-abcde", "container": "kube-state-metrics"}
    assert subject_labels(ksm) == {"namespace": "shop", "deployment": "cart"}
    # about itself (no subject), or another exporter: as they are
    own = {"job": "kube-state-metrics", "service": "ksm", "instance": "10.0.0.9:8080"}
    assert subject_labels(own) is own
    app = {"job": "checkout", "service": "checkout", "pod": "checkout-7f9dd8b6c4-x7gr9"}
    assert subject_labels(app) is app

