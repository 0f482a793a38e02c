"""cAdvisor's usage of a container becomes the share of its limit the fingerprints read."""

from __future__ import annotations

import pytest

from warroom.agents.diagnostician.containers import container_shares
from warroom.agents.diagnostician.index import Index, finite_samples
from warroom.agents.diagnostician.metrics import compute_stats, metric_findings
from warroom.agents.diagnostician.roles import CPU, MEMORY, THROTTLED, role_of

from .diag_builders import deployment, pod, series, snapshot
from .test_families import POD, counter, named


def test_cadvisor_usage_becomes_a_share_of_the_limit_kube_state_metrics_gives() -> None:
    cpu = series("container_cpu_usage_seconds_total", counter([0.2] * 5), **POD)
    memory = series("container_memory_working_set_bytes", [2**28] * 5, **POD)
    limits = [series("kube_pod_container_resource_limits", [0.5] * 5, resource="cpu", **POD),
              series("kube_pod_container_resource_limits", [2**29] * 5, resource="memory",
                     **POD)]
    periods = series("container_cpu_cfs_periods_total", counter([10.0] * 5), **POD)
    throttled = series("container_cpu_cfs_throttled_periods_total", counter([2.5] * 5), **POD)
    derived = container_shares([cpu, memory, periods, throttled, *limits], finite_samples, [])
    out = named(derived)
    assert out["container_cpu_usage_ratio"] == pytest.approx([0.4] * 4)
    assert out["container_memory_working_set_ratio"] == pytest.approx([0.5] * 5, rel=1e-4)
    assert out["container_cpu_cfs_throttled_ratio"] == pytest.approx([0.25] * 4)
    roles = {role_of(s, finite_samples(s)) for s in derived}
    assert {CPU, MEMORY, THROTTLED} <= roles
    assert "container_cpu_usage_seconds_total" not in out
    assert "container_cpu_cfs_periods_total" not in out  # what the throttled share is of


def test_the_pods_spec_gives_the_limit_and_without_one_the_usage_stays_as_it_is() -> None:
    cpu = series("container_cpu_usage_seconds_total", counter([0.25] * 5), **POD)
    spec = pod("shop", "cart-7f9dd8b6c4-aaaaa", ("ReplicaSet", "cart-7f9dd8b6c4"))  # 500m
    assert named(container_shares([cpu], finite_samples, [spec]))["container_cpu_usage_ratio"] == \
        pytest.approx([0.5] * 4)
    assert container_shares([cpu], finite_samples, []) == [cpu]
    recorded = series("pod:cpu_usage:ratio", [0.5] * 5, **POD)
    assert container_shares([cpu, recorded], finite_samples, [spec]) == [cpu, recorded]


def test_a_container_at_its_cpu_limit_is_saturated_in_cadvisor_counters_too() -> None:
    objects = [*deployment("shop", "cart"),
               pod("shop", "cart-7f9dd8b6c4-aaaaa", ("ReplicaSet", "cart-7f9dd8b6c4"))]
    cores = counter([0.05] * 30 + [0.5] * 10)  # its limit is 500m
    snap = snapshot(objects=objects, series=[
        series("container_cpu_usage_seconds_total", cores, **POD)])
    findings = metric_findings(compute_stats(Index.build(snap)))
    assert "cpu_saturation" in {f.fault for f in findings if f.service == "cart"}
