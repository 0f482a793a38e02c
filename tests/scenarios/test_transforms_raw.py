"""`raw_counters` gives back the counters and histograms the recorded series were computed from
(the meshes' transforms: test_transforms_mesh.py)."""

from __future__ import annotations

import bisect

import pytest
from transform_kit import SAMPLE, by_labels, sample

from warroom.agents.diagnostician.families import derive
from warroom.agents.diagnostician.index import finite_samples
from warroom.scenarios.models import Scenario
from warroom.scenarios.transforms import resolve
from warroom.scenarios.transforms_raw import BOUNDS, CPU_LIMIT, raw_counters

_COUNTERS = ("_total", "_bucket", "_count", "_sum")


@pytest.fixture(params=SAMPLE)
def scenario(request: pytest.FixtureRequest) -> Scenario:
    return sample(request.param)


def test_every_counter_only_grows_and_starts_a_step_before_the_window(
        scenario: Scenario) -> None:
    out = raw_counters(scenario)
    first = min(t for s in scenario.prometheus.series for t, _ in s.values)
    counters = [s for s in out.prometheus.series if s.name.endswith(_COUNTERS)]
    assert counters and not any(":" in s.name for s in out.prometheus.series)
    for s in counters:
        values = [v for _, v in finite_samples(s)]
        assert values == sorted(values), s.metric
    assert any(finite_samples(s)[0][0] < first for s in counters)
    assert out.model_dump(exclude={"prometheus"}) == scenario.model_dump(exclude={"prometheus"})


def test_the_derived_golden_signals_are_the_recorded_ones(scenario: Scenario) -> None:
    derived = derive(raw_counters(scenario).prometheus.series, finite_samples)
    recorded = scenario.prometheus.series
    errors = by_labels(recorded, "service:errors:ratio_rate1m")
    for was, now in (("service:errors:ratio_rate1m", "http_requests_error_ratio"),
                     ("service:requests:rate1m", "http_requests_per_second"),
                     ("pod:cpu_usage:ratio", "container_cpu_usage_ratio"),
                     ("pod:memory_working_set:ratio", "container_memory_working_set_ratio")):
        before, after = by_labels(recorded, was), by_labels(derived, now)
        assert before, was
        for labels, samples in before.items():
            key = labels if now.startswith("http") else tuple(sorted({
                *labels, ("container", dict(labels).get("container") or "")} - {
                ("container", "")}))
            got = after.get(key) or next(v for k, v in after.items() if set(labels) <= set(k))
            # the failures of the interval in which the failures' counter was created are
            # unseen, as a counter's first sample has no rate
            failing = errors.get(labels, {}) if now.startswith("http") else {}
            unseen = min((t for t, v in failing.items() if v > 0), default=None)
            for t, v in got.items():
                if t != unseen:
                    assert v == pytest.approx(samples[t], rel=1e-3, abs=1e-6), (was, labels, t)


def test_a_failures_counter_appears_at_the_first_failure() -> None:
    scenario = sample(SAMPLE[0])
    failed = [s for s in raw_counters(scenario).prometheus.series
              if s.name == "http_requests_total" and s.metric["code"] == "500"]
    assert failed and all(float(s.values[0][1]) > 0 for s in failed)


def test_a_derived_quantile_falls_in_the_bucket_of_the_recorded_one(scenario: Scenario) -> None:
    derived = by_labels(derive(raw_counters(scenario).prometheus.series, finite_samples),
                  "http_request_duration_seconds_p99")
    recorded = by_labels(scenario.prometheus.series, "service:latency_seconds:p99_1m")
    assert recorded
    for labels, samples in recorded.items():
        for t, v in derived[labels].items():
            at = bisect.bisect_left(BOUNDS, samples[t])
            low = BOUNDS[at - 1] if at else 0.0
            assert low <= v <= BOUNDS[at], (labels, t, samples[t], v)


def test_limits_come_as_kube_state_metrics_gives_them(scenario: Scenario) -> None:
    limits = by_labels(raw_counters(scenario).prometheus.series,
                       "kube_pod_container_resource_limits")
    cpu = [v for k, samples in limits.items() if ("resource", "cpu") in k
           for v in samples.values()]
    assert cpu and set(cpu) == {CPU_LIMIT}


def test_a_nodes_series_come_as_kube_prometheus_scrapes_node_exporter(
        scenario: Scenario) -> None:
    nodes = {s.metric["node"] for s in scenario.prometheus.series
             if s.metric.get("node") and not s.metric.get("pod")}
    out = [s for s in raw_counters(scenario).prometheus.series if s.name.startswith("node_")]
    assert nodes and out
    assert {s.metric["instance"].removesuffix(":9100") for s in out} == nodes
    assert all("node" not in s.metric and s.metric["job"] == "node-exporter"
               and s.metric["pod"].startswith("node-exporter-") for s in out)


def test_a_latency_with_no_request_rate_still_becomes_a_histogram() -> None:
    scenario = sample(SAMPLE[0])
    only = [s for s in scenario.prometheus.series if s.name.startswith("service:latency")]
    alone = scenario.model_copy(update={"prometheus": scenario.prometheus.model_copy(
        update={"series": only})})
    derived = by_labels(derive(raw_counters(alone).prometheus.series, finite_samples),
                  "http_request_duration_seconds_p99")
    assert derived and all(derived.values())


def test_raw_counters_is_asked_for_by_name() -> None:
    assert "raw_counters" not in resolve(["all"])
    assert resolve(["raw_counters"]) == ["raw_counters"]
