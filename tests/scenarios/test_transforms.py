"""Evidence-degradation transforms, each checked on real regression scenarios: what it must
change, what it must keep, and that `expected` still describes the transformed scenario."""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path
from statistics import fmean

import pytest
from typer.testing import CliRunner

from warroom.cli import app
from warroom.safety.rules import callers_of
from warroom.scenarios.models import Scenario
from warroom.scenarios.replay import load_scenario
from warroom.scenarios.transforms import (
    COARSE_STEP,
    SERVICE_LABELS,
    TRANSFORMS,
    alert_to_entry,
    apply,
    coarsen,
    drop_changes,
    drop_logs,
    drop_objects,
    drop_topology,
    fine_steps,
    gaps,
    onset,
    raw_names,
    red_herring,
    relabel,
    resolve,
)
from warroom.scenarios.transforms_world import namespaces, noise, rename
from warroom.sensors.models import Document

REGRESSION = Path(__file__).parents[2] / "scenarios" / "regression"
# an upstream alert, a deploy in the feed, pods, logs and a database in the graph
DEPLOY = "gen-bad-deploy-hard-040"
# the alert sits on the root cause itself (easy) and the fault shows in objects
OOM = "gen-memory-limit-too-low-easy-001"
SAMPLE = [DEPLOY, OOM, "gen-node-failure-medium-032", "gen-external-dependency-hard-045",
          "gen-database-saturation-medium-030", "gen-certificate-expired-easy-016"]


def _load(name: str) -> Scenario:
    return load_scenario(REGRESSION / f"{name}.json", with_expected=True)


@pytest.fixture(params=SAMPLE)
def scenario(request: pytest.FixtureRequest) -> Scenario:
    return _load(str(request.param))


def test_sample_names_exist() -> None:
    for name in SAMPLE:
        assert (REGRESSION / f"{name}.json").is_file(), name


def _dump(s: Scenario, *skip: str) -> dict[str, object]:
    data = s.model_dump(mode="json")
    for key in skip:
        data.pop(key)
    return data


@pytest.mark.parametrize(("fn", "field"), [(drop_objects, "kubernetes"), (drop_logs, "logs"),
                                           (drop_changes, "changes"),
                                           (drop_topology, "topology")])
def test_drops_remove_one_dimension_and_keep_the_rest(scenario: Scenario, fn: object,
                                                      field: str) -> None:
    out = fn(scenario, 1)  # type: ignore[operator]
    assert not (out.kubernetes.objects if field == "kubernetes" else
                out.topology.edges if field == "topology" else getattr(out, field))
    assert _dump(out, field) == _dump(scenario, field)


def test_coarsen_keeps_five_minute_means_with_two_or_three_baseline_samples(
        scenario: Scenario) -> None:
    out = coarsen(scenario, 3)
    start, end = onset(scenario).timestamp(), scenario.now.timestamp()
    assert out.prometheus.step_seconds == COARSE_STEP
    assert len(out.prometheus.series) <= len(scenario.prometheus.series)
    raw = {json.dumps(s.metric, sort_keys=True): s for s in scenario.prometheus.series}
    full = 0
    for s in out.prometheus.series:
        times = [t for t, _ in s.values]
        assert all((end - t) % COARSE_STEP == 0 and t <= end for t in times)
        assert sum(t <= start for t in times) <= 3
        source = raw[json.dumps(s.metric, sort_keys=True)]
        if source.values[0][0] <= start - 3 * COARSE_STEP and source.values[-1][0] >= end - 60:
            full += 1
            assert sum(t <= start for t in times) in (2, 3)
            assert sum(t > start for t in times) >= 1
        for t, v in s.values:  # each sample is the mean of the raw samples in its bucket
            bucket = [float(x) for ts, x in source.values if t - COARSE_STEP < ts <= t]
            assert float(v) == pytest.approx(fmean(bucket), rel=1e-5)
    assert full > 0
    assert _dump(out, "prometheus") == _dump(scenario, "prometheus")


def test_rename_gives_every_workload_a_cloud_name_everywhere(scenario: Scenario) -> None:
    out = rename(scenario, 5)
    old = namespaces(scenario)
    new_names = {f"{n}_AWS::" for n in old}
    cloud = re.compile(r"^.+_AWS::\w+(::\w+)?$")
    for s in out.prometheus.series:
        assert s.metric.get("namespace", "") == ""
        if "service" in s.metric:
            assert cloud.match(s.metric["service"]), s.metric
        if "pod" in s.metric:
            assert any(s.metric["pod"].startswith(p) for p in new_names), s.metric
    for w in out.alerts:
        for a in w.alerts:
            assert a.labels.get("namespace", "") == ""
            if "service" in a.labels:
                assert cloud.match(a.labels["service"])
    for stream in out.logs:
        assert stream.namespace == "" and any(stream.pod.startswith(p) for p in new_names)
    assert all(not (o.get("metadata") or {}).get("namespace") for o in out.kubernetes.objects)
    for c in out.changes:
        ns, _, name = c.target.split("/")
        assert ns == "" and cloud.match(name)
    # the graph keeps its shape; workloads in it are renamed, outside hosts are not
    assert len(out.topology.edges) == len(scenario.topology.edges)
    for (a, b), (x, y) in zip(scenario.topology.edges, out.topology.edges, strict=True):
        assert (x == a) == (a not in old) and (y == b) == (b not in old)
    # expected names what the scenario now calls the culprit, and what actions now target
    assert out.expected is not None and scenario.expected is not None
    rc, was = out.expected.root_cause, scenario.expected.root_cause
    assert rc.fault == was.fault
    if was.namespace:
        assert rc.namespace == "" and rc.service.startswith(f"{was.service}_AWS::")
        names = {n for e in out.topology.edges for n in e} | {
            s.metric.get("service") for s in out.prometheus.series}
        assert rc.service in names
    else:
        assert rc == was
    for before, after in zip(scenario.expected.acceptable_actions,
                             out.expected.acceptable_actions, strict=True):
        assert after.type == before.type
        if before.target and before.target.split("/")[2].split("-")[0] in old:
            assert after.target is not None and after.target.startswith("/")
    assert rename(scenario, 5) == out  # deterministic


def test_alert_to_entry_moves_every_alert_to_a_root_above_the_cause() -> None:
    s = _load(DEPLOY)
    out = alert_to_entry(s, 0)
    assert s.expected is not None and out.expected is not None
    cause = s.expected.root_cause.service
    labels = [a.labels for w in out.alerts for a in w.alerts]
    assert len(labels) == 1
    entry = labels[0]["service"]
    callees = {b for _, b in s.topology.edges}
    assert entry not in callees and entry in callers_of(s.topology.edges, cause)
    assert labels[0]["namespace"] == namespaces(s)[entry]
    assert labels[0]["alertname"] in ("HighErrorRate", "HighLatencyP99")
    assert out.expected.root_cause == s.expected.root_cause
    forbidden = {(a.type, a.target) for a in out.expected.forbidden_actions}
    ns = namespaces(s)[entry]
    assert ("rollout_restart", f"{ns}/deployment/{entry}") in forbidden
    assert ("delete_pod", f"{ns}/pod/{entry}-*") in forbidden
    assert _dump(out, "alerts", "expected") == _dump(s, "alerts", "expected")


def test_alert_to_entry_moves_a_healthy_answer_to_the_entry_it_alerts_on() -> None:
    s = _load("gen-none-medium-089")
    out = alert_to_entry(s, 0)
    assert s.expected is not None and out.expected is not None
    entry = next(a.labels for w in out.alerts for a in w.alerts)["service"]
    assert entry != s.expected.root_cause.service  # the alert really moved
    assert out.expected.root_cause.fault == "none"
    assert out.expected.root_cause.service == entry
    assert out.expected.root_cause.namespace == namespaces(s)[entry]


def test_alert_to_entry_leaves_a_scenario_without_topology_alone() -> None:
    s = _load(DEPLOY)
    bare = s.model_copy(update={"topology": s.topology.model_copy(update={"edges": []})})
    assert alert_to_entry(bare, 0) == bare


def test_noise_adds_twenty_stationary_healthy_services_wired_to_healthy_ones(
        scenario: Scenario) -> None:
    out = noise(scenario, 2)
    assert scenario.expected is not None and out.expected == scenario.expected
    before = namespaces(scenario)
    added = {n: ns for n, ns in namespaces(out).items() if n not in before}
    assert len(added) == 20
    cause = scenario.expected.root_cause.service
    sick = {cause} | callers_of(scenario.topology.edges, cause)
    new_edges = out.topology.edges[len(scenario.topology.edges):]
    assert out.topology.edges[:len(scenario.topology.edges)] == scenario.topology.edges
    assert len(new_edges) == 20
    for a, b in new_edges:
        assert (a in added) != (b in added)  # one new service, one old one
        assert not ({a, b} & sick)
    # the fault still has the same callers: nothing new sits above it
    assert callers_of(out.topology.edges, cause) == callers_of(scenario.topology.edges, cause)
    for s in out.prometheus.series:
        if s.metric.get("service") in added or s.metric.get("container") in added:
            vals = [float(v) for _, v in s.values]
            assert len(vals) == len(max(scenario.prometheus.series,
                                        key=lambda x: len(x.values)).values)
            half = len(vals) // 2
            spread = max(vals) - min(vals)
            assert spread > 0
            assert abs(fmean(vals[half:]) - fmean(vals[:half])) < 0.5 * spread
    pods = [o for o in out.kubernetes.objects[len(scenario.kubernetes.objects):]
            if o["kind"] == "Pod"]
    if scenario.kubernetes.objects:
        assert {p["metadata"]["namespace"] for p in pods} <= set(added.values())
        assert {p["metadata"]["labels"]["app"] for p in pods} <= set(added)


def test_red_herring_adds_recent_deploys_of_healthy_services(scenario: Scenario) -> None:
    out = red_herring(scenario, 4)
    assert scenario.expected is not None and out.expected is not None
    new = [c for c in out.changes if c not in scenario.changes]
    assert 2 <= len(new) <= 3 and all(c in out.changes for c in scenario.changes)
    cause = scenario.expected.root_cause.service
    sick = {cause} | callers_of(scenario.topology.edges, cause)
    start = onset(scenario)
    for c in new:
        ns, _, name = c.target.split("/")
        assert c.kind == "deploy" and name not in sick and namespaces(scenario)[name] == ns
        assert start - timedelta(minutes=10) <= c.time < start
        assert any(a.type == "rollout_undo" and a.target == c.target
                   for a in out.expected.forbidden_actions)
    assert out.expected.root_cause == scenario.expected.root_cause
    assert [c.time for c in out.changes] == sorted(c.time for c in out.changes)


def test_red_herring_deploys_turn_their_pods_over_in_the_metrics() -> None:
    scenario = _load(DEPLOY)
    out = red_herring(scenario, 4)
    new = [c for c in out.changes if c not in scenario.changes]
    ns, _, name = new[0].target.split("/")
    own = re.compile(rf"^{re.escape(name)}-[a-z0-9]{{5,10}}-[a-z0-9]{{5}}$")

    def pods(s: Scenario) -> dict[str, tuple[float, float]]:
        return {x.metric["pod"]: (x.values[0][0], x.values[-1][0]) for x in s.prometheus.series
                if x.metric.get("namespace", "") == ns and own.match(x.metric.get("pod", ""))}

    before, after = pods(scenario), pods(out)
    cut = new[0].time.timestamp()
    assert before and set(before) <= set(after)
    assert all(last < cut for p, (_, last) in after.items() if p in before)  # the old stop
    successors = {p: span for p, span in after.items() if p not in before}
    assert len(successors) == len(before)  # one new pod each, of one new ReplicaSet
    assert len({p.rsplit("-", 2)[1] for p in successors}) == 1
    assert all(first >= cut for first, _ in successors.values())
    # values are kept, only split between the two names
    assert sum(len(x.values) for x in out.prometheus.series) == sum(
        len(x.values) for x in scenario.prometheus.series)


def test_rename_carries_a_statefulsets_name_into_its_volume_claims() -> None:
    scenario = _load("gen-disk-pressure-easy-013")  # the alert names a claim, not the workload
    out = rename(scenario, 5)
    assert out.expected is not None
    new = out.expected.root_cause.service
    claims = [a.labels["persistentvolumeclaim"] for w in out.alerts for a in w.alerts]
    claims += [s.metric["persistentvolumeclaim"] for s in out.prometheus.series
               if "persistentvolumeclaim" in s.metric]
    assert f"data-{new}-0" in claims
    assert all(re.fullmatch(r"data-.+_AWS::[\w:]+-0", c) for c in claims), claims
    # with no object left to say which workload is a StatefulSet, its claims' names say it
    alone = rename(drop_objects(scenario), 5)
    assert alone.expected is not None
    assert {s.metric["persistentvolumeclaim"] for s in alone.prometheus.series
            if "persistentvolumeclaim" in s.metric} >= {
        f"data-{alone.expected.root_cause.service}-0"}


def test_rename_leaves_no_namespace_in_kubectl_text_or_trace_attributes() -> None:
    text = ("Name:         ghost-7f9dd8b6c4-x7gr9\nNamespace:    shop\nNode: worker-1\n"
            "  Resource labels: k8s.namespace.name='shop' service.name='ghost'\n"
            '{"kind": "pod", "name": "ghost-7f9dd8b6c4-x7gr9", "namespace": "shop"}')
    scenario = _load("gen-disk-pressure-easy-013")
    with_doc = scenario.model_copy(update={"documents": [Document(
        source="kubectl", title="kubectl describe pod ghost-7f9dd8b6c4-x7gr9 -n shop",
        text=text)]})
    (doc,) = rename(with_doc, 5).documents
    assert doc.title == "kubectl describe pod ghost-7f9dd8b6c4-x7gr9"
    assert "shop" not in doc.text and "Node: worker-1" in doc.text
    assert "Namespace:    \n" in doc.text and '"namespace": ""' in doc.text


def test_raw_names_rename_every_recording_rule_and_keep_the_rest(scenario: Scenario) -> None:
    out = raw_names(scenario)
    names = [s.metric["__name__"] for s in out.prometheus.series]
    assert names and not any(":" in n for n in names)
    assert "container_cpu_utilisation_ratio" in names
    # labels and values stay; everything but the series is the same
    assert [({**s.metric, "__name__": ""}, s.values) for s in out.prometheus.series] == [
        ({**s.metric, "__name__": ""}, s.values) for s in scenario.prometheus.series]
    assert _dump(out, "prometheus") == _dump(scenario, "prometheus")


def test_relabel_moves_the_service_label_of_series_and_alerts(scenario: Scenario) -> None:
    out = relabel(scenario, 3)
    labels = [s.metric for s in out.prometheus.series]
    labels += [w.common_labels for w in out.alerts] + [a.labels for w in out.alerts
                                                      for a in w.alerts]
    assert not any("service" in m for m in labels)
    moved = {k for m in labels for k in m if k in SERVICE_LABELS}
    assert len(moved) == 1  # one setup's name per scenario
    label = moved.pop()
    assert [({k if k != label else "service": v for k, v in s.metric.items()}, s.values)
            for s in out.prometheus.series] == [
        (s.metric, s.values) for s in scenario.prometheus.series]
    assert _dump(out, "prometheus", "alerts") == _dump(scenario, "prometheus", "alerts")


def test_fine_steps_hold_each_sample_for_four_quarter_minutes(scenario: Scenario) -> None:
    out = fine_steps(scenario)
    assert out.prometheus.step_seconds == 15
    for before, after in zip(scenario.prometheus.series, out.prometheus.series, strict=True):
        assert after.metric == before.metric
        held = {t: v for t, v in after.values}
        for t, v in before.values:
            assert held[t] == v  # every sample is still there, at its own time
        if len(before.values) > 1 and before.values[1][0] - before.values[0][0] == 60:
            t0, v0 = before.values[0]
            assert [held[t0 + d] for d in (15, 30, 45)] == [v0] * 3
    assert _dump(out, "prometheus") == _dump(scenario, "prometheus")


def test_gaps_remove_a_fifth_of_the_samples_but_the_first_and_newest(scenario: Scenario) -> None:
    out = gaps(scenario, 3)
    kept = total = 0
    for before, after in zip(scenario.prometheus.series, out.prometheus.series, strict=True):
        assert after.metric == before.metric
        assert set(after.values) <= set(before.values)
        assert after.values[0] == before.values[0] and after.values[-1] == before.values[-1]
        kept, total = kept + len(after.values), total + len(before.values)
    assert 0.7 < kept / total < 0.9
    assert gaps(scenario, 3) == out and gaps(scenario, 4) != out  # seeded
    assert _dump(out, "prometheus") == _dump(scenario, "prometheus")


def test_resolve_expands_all_and_rejects_unknown_names() -> None:
    by_name = ("kube_state", "chronic", "raw_names", "relabel", "slo_alert", "raw_counters", "mesh",
               "linkerd", "service_graph", "otel", "tempo", "fine_steps", "gaps",
               "drop_topology")
    assert resolve(["all"]) == [n for n in TRANSFORMS if n not in by_name]
    assert resolve(["all", "drop_topology"]) == [
        n for n in TRANSFORMS if n not in by_name[:-1]]
    assert resolve(["drop_topology", "raw_names"]) == ["raw_names", "drop_topology"]
    assert resolve(["rename", "drop_logs"]) == ["drop_logs", "rename"]
    with pytest.raises(ValueError,
                       match=r"unknown transform bogus; valid: kube_state, drop_objects.*all"):
        resolve(["bogus", "noise"])


def test_all_transforms_together_are_deterministic_and_seeded() -> None:
    s = _load(DEPLOY)
    combined = apply(s, ["all"], 7)
    assert combined == apply(s, ["all"], 7)
    assert combined != apply(s, ["all"], 8)
    # every transform left its mark on the combined scenario
    assert not combined.kubernetes.objects and not combined.logs  # dropped before noise
    assert combined.prometheus.step_seconds == COARSE_STEP
    assert 2 <= len(combined.changes) <= 3  # the feed went, the red herrings came
    assert all(c.target.startswith("/") for c in combined.changes)
    services = {x.metric["service"] for x in combined.prometheus.series if "service" in x.metric}
    assert len(services) == len({x.metric["service"] for x in s.prometheus.series
                                 if "service" in x.metric}) + 20
    assert all("_AWS::" in name for name in services)
    labels = [a.labels for w in combined.alerts for a in w.alerts]
    assert len(labels) == 1 and labels[0]["namespace"] == ""


def test_eval_prints_a_row_per_transform_and_combined(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in (DEPLOY, OOM):
        shutil.copy(REGRESSION / f"{name}.json", tmp_path)
    bad = runner.invoke(app, ["eval", str(tmp_path), "--transform", "nope"])
    assert bad.exit_code == 2 and "valid: kube_state, drop_objects" in bad.output
    result = runner.invoke(app, ["eval", str(tmp_path), "--transform", "drop_logs",
                                 "--transform", "rename", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report) == ["untransformed", "drop_logs", "rename", "combined"]
    assert all(r["overall"]["scenarios"] == 2 for r in report.values())
    table = runner.invoke(app, ["eval", str(tmp_path), "--transform", "drop_changes"])
    assert table.exit_code == 0
    assert "untransformed" in table.stdout and "drop_changes" in table.stdout
    assert "combined" not in table.stdout.split("combined:")[0]
