"""Evidence-degradation transforms: a scenario with less, coarser or noisier evidence.

Each transform is a pure, seeded function `Scenario -> Scenario` that keeps `expected`
consistent with what it changed. `warroom eval --transform NAME` replays a whole set through
them, so diagnosis quality is measured on evidence shaped unlike the generators' own:

- `drop_objects`, `drop_logs`, `drop_changes`: that evidence dimension is gone.
- `coarsen`: every series resampled to 5-minute means, with only 2-3 samples before the onset.
- `rename`: every workload gets a non-Kubernetes name (`orders_AWS::Lambda::Function`) and an
  empty namespace, everywhere the scenario names it.
- `alert_to_entry`: the alerts are replaced by one symptom alert on the call graph's entry.
- `noise`: 20 healthy services with noisy, stationary metrics join the call graph.
- `red_herring`: recent deploys of healthy services just before the onset (their pods'
  series turn over to a new ReplicaSet, as a real rollout shows in the metrics).
- `raw_names` (not part of `all`): every recording-rule name (`pod:cpu_usage:ratio`) becomes
  a raw exporter's name for the same fact (`container_cpu_utilisation_ratio`).
- `relabel` (not part of `all`): the `service` label of every series and alert becomes another
  setup's name for it (`app`, `app_kubernetes_io_name`, OpenTelemetry's `service_name`, or
  the scrape `job` of a plain Prometheus).
- `slo_alert` (not part of `all`): every alert about a service is the burn-rate alert of an
  SLO tool (Sloth's `sloth_service`/`sloth_id`, or Pyrra's `slo="checkout-availability"`),
  which names the service only inside label values of its own keys.
- `raw_counters` (not part of `all`): the counters, histograms and cAdvisor gauges the
  recording rules are computed from (`http_requests_total{code}`, `..._bucket{le}`,
  `container_cpu_usage_seconds_total` with kube-state-metrics' limits); see transforms_raw.py.
- `mesh` (not part of `all`): each service's requests, failures and latency as Istio's
  per-call metrics, and no topology: the call graph is in the metrics' labels (see
  transforms_mesh.py).
- `linkerd`, `service_graph` (not part of `all`): the same as Linkerd's outbound
  `response_total{classification}` and `response_latency_ms` histogram count it (the service's
  own inbound series when nothing calls it), or as a tracing backend's service graph does
  (`traces_service_graph_request_total`, `..._failed_total`, `..._server_seconds_bucket`);
  see transforms_mesh.py.
- `otel` (not part of `all`): OpenTelemetry's span metrics, each service's server spans and its
  callers' client spans (`traces_span_metrics_calls_total{service_name, span_kind,
  status_code}`, `traces_span_metrics_duration_milliseconds_bucket`), with no namespace.
- `tempo` (not part of `all`): the same as Grafana Tempo's metrics generator writes them
  (`traces_spanmetrics_calls_total{service, span_kind, status_code}`,
  `traces_spanmetrics_latency_bucket` in seconds), with no scrape labels; see
  transforms_mesh.py.
- `fine_steps` (not part of `all`): every series sampled every minute or more often is read
  at 15-second steps, each sample held until the next (a step finer than the scrape interval).
- `gaps` (not part of `all`): failed scrapes: a fifth of every series' samples are missing, at
  random (its first and newest samples stay, so no series looks as if it stopped reporting).
- `kube_state` (not part of `all`): no Kubernetes objects, but the series kube-state-metrics
  exports of them (`kube_pod_container_status_waiting_reason{reason}`, `kube_pod_status_ready`,
  `kube_node_status_condition`, `kube_deployment_metadata_generation`...), as a warroom without
  access to the API reads the cluster; see transforms_kube.py.
- `chronic` (not part of `all`): 2-3 workloads broken for days (an image that cannot be pulled,
  a crash loop of hundreds of restarts, a pod Pending for want of memory, a missing Secret)
  beside the root cause, unconnected to it; see transforms_chronic.py.
- `drop_topology` (not part of `all`, which is the eight before `raw_names`): the call graph
  is gone, so the walk must infer who calls whom from logs, traces and co-movement.

The onset of an incident is not part of the format; it is estimated as five minutes before the
first alert started (an alert's `for:` window), which is never after the real onset.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from statistics import fmean

from warroom.ingest.models import AlertmanagerAlert, AlertmanagerWebhook
from warroom.safety.rules import callers_of
from warroom.scenarios.models import ExpectedAction, PrometheusData, Scenario
from warroom.scenarios.transforms_chronic import chronic
from warroom.scenarios.transforms_kube import kube_state
from warroom.scenarios.transforms_mesh import linkerd, mesh, otel, service_graph, tempo
from warroom.scenarios.transforms_raw import raw_counters, raw_name, relabelled_alerts
from warroom.scenarios.transforms_slo import slo_alert
from warroom.scenarios.transforms_world import (
    healthy_services,
    namespaces,
    noise,
    rename,
    rng_for,
    roll_pods,
    workload_kind,
)
from warroom.sensors.models import Change, Series

Transform = Callable[[Scenario, int], Scenario]

COARSE_STEP = 300
FINE_STEP = 15
_ALERT_FOR = timedelta(minutes=5)
_MUTATING = ("rollout_restart", "rollout_undo", "scale", "set_resources")


def onset(scenario: Scenario) -> datetime:
    """Estimate when the incident began: the first alert's start less its `for:` window."""
    starts = [a.starts_at for w in scenario.alerts for a in w.alerts]
    return (min(starts) if starts else scenario.now - timedelta(minutes=10)) - _ALERT_FOR


def drop_objects(scenario: Scenario, seed: int = 0) -> Scenario:
    """Remove every Kubernetes object (events included): evidence from outside Kubernetes."""
    return scenario.model_copy(update={"kubernetes": scenario.kubernetes.model_copy(
        update={"objects": []})})


def drop_logs(scenario: Scenario, seed: int = 0) -> Scenario:
    """Remove every log stream."""
    return scenario.model_copy(update={"logs": []})


def drop_changes(scenario: Scenario, seed: int = 0) -> Scenario:
    """Remove the change feed."""
    return scenario.model_copy(update={"changes": []})


def drop_topology(scenario: Scenario, seed: int = 0) -> Scenario:
    """Remove the call graph (applied after the transforms that read or extend it)."""
    return scenario.model_copy(update={"topology": scenario.topology.model_copy(
        update={"edges": []})})


def raw_names(scenario: Scenario, seed: int = 0) -> Scenario:
    """Give every recording rule's series the name a raw exporter gives the same fact."""
    series = []
    for item in scenario.prometheus.series:
        raw = raw_name(item.metric.get("__name__", ""))
        series.append(item.model_copy(update={"metric": {**item.metric, "__name__": raw}}))
    return scenario.model_copy(update={"prometheus": scenario.prometheus.model_copy(
        update={"series": series})})


# what other setups call the label that names a service: the Kubernetes recommended label as
# kube-prometheus relabels it, the bare `app`, OpenTelemetry's `service.name`, and the scrape
# job of a plain Prometheus
SERVICE_LABELS = ("app", "app_kubernetes_io_name", "service_name", "job")


def relabel(scenario: Scenario, seed: int = 0) -> Scenario:
    """Move the `service` label of every series and alert to another setup's name for it."""
    label = rng_for(scenario, "relabel", seed).choice(SERVICE_LABELS)

    def moved(labels: dict[str, str]) -> dict[str, str]:
        out = {k: v for k, v in labels.items() if k != "service"}
        return {**out, label: labels["service"]} if "service" in labels else out

    series = [item.model_copy(update={"metric": moved(item.metric)})
              for item in scenario.prometheus.series]
    alerts = relabelled_alerts(scenario.alerts, moved)
    return scenario.model_copy(update={"alerts": alerts, "prometheus": scenario.prometheus
                                       .model_copy(update={"series": series})})


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def coarsen(scenario: Scenario, seed: int = 0) -> Scenario:
    """Resample every series to 5-minute means, keeping 2-3 samples before the onset.

    Buckets end at `now` and every 300 s before it; a bucket without samples is left out (a
    series that stopped reporting stays stopped). Which of 2 or 3 is drawn per scenario.
    """
    keep = rng_for(scenario, "coarsen", seed).choice((2, 3))
    end = scenario.now.timestamp()
    start = onset(scenario).timestamp()
    # the grid: every bucket end after the onset, and `keep` bucket ends at or before it
    ends: list[float] = []
    t, baseline = end, 0
    while baseline < keep:
        ends.append(t)
        baseline += t <= start
        t -= COARSE_STEP
    ends.reverse()
    series: list[Series] = []
    for item in scenario.prometheus.series:
        samples = [(t, float(v)) for t, v in item.values if t <= end]
        values: list[tuple[float, str]] = []
        for t in ends:
            inside = [v for ts, v in samples if t - COARSE_STEP < ts <= t]
            if inside:
                values.append((t, _fmt(fmean(inside))))
        if values:
            series.append(item.model_copy(update={"values": values}))
    return scenario.model_copy(update={"prometheus": PrometheusData(
        step_seconds=COARSE_STEP, series=series)})


def fine_steps(scenario: Scenario, seed: int = 0) -> Scenario:
    """Read every series sampled every minute or more often at 15-second steps, as Prometheus'
    `query_range` at a step finer than the scrape interval does: each sample again until the
    next. Coarser series (five-minute data) are left as they are."""
    series: list[Series] = []
    for item in scenario.prometheus.series:
        values: list[tuple[float, str]] = []
        for (t0, v0), (t1, _) in zip(item.values, item.values[1:], strict=False):
            steps = int((t1 - t0) // FINE_STEP) if t1 - t0 <= 60 else 1
            values += [(t0 + i * FINE_STEP, v0) for i in range(max(steps, 1))]
        values += item.values[-1:]
        series.append(item.model_copy(update={"values": values}))
    return scenario.model_copy(update={"prometheus": PrometheusData(
        step_seconds=FINE_STEP, series=series)})


GAP_SHARE = 0.2


def gaps(scenario: Scenario, seed: int = 0) -> Scenario:
    """Remove a fifth of every series' samples at random, as failed scrapes leave them; each
    series' first and newest samples stay."""
    rng = rng_for(scenario, "gaps", seed)
    series = [item.model_copy(update={"values": [
        v for i, v in enumerate(item.values)
        if i in (0, len(item.values) - 1) or rng.random() >= GAP_SHARE]})
        for item in scenario.prometheus.series]
    return scenario.model_copy(update={"prometheus": scenario.prometheus.model_copy(
        update={"series": series})})


def _entry(scenario: Scenario, rng: random.Random) -> str | None:
    """Return a root of the call graph above the root cause (itself when nothing calls it)."""
    if scenario.expected is None:
        return None
    edges = scenario.topology.edges
    cause = scenario.expected.root_cause.service
    if not edges or cause not in {n for e in edges for n in e}:
        return None
    above = callers_of(edges, cause)
    callees = {b for _, b in edges}
    roots = sorted(n for n in above if n not in callees)
    if not roots:  # the root cause sits in a cycle or calls nobody's callers: it is the entry
        return cause
    return rng.choice(roots)


def _symptom(scenario: Scenario, namespace: str, service: str) -> str:
    """Name the symptom the entry shows: errors when its error ratio rose, else latency."""
    for s in scenario.prometheus.series:
        if (s.name == "service:errors:ratio_rate1m" and s.metric.get("service") == service
                and s.metric.get("namespace", "") == namespace and len(s.values) >= 4):
            vals = [float(v) for _, v in s.values]
            half = len(vals) // 2
            if fmean(vals[-3:]) - fmean(vals[:half]) > 0.02:
                return "HighErrorRate"
    return "HighLatencyP99"


def alert_to_entry(scenario: Scenario, seed: int = 0) -> Scenario:
    """Replace every alert by one symptom alert on the entry service above the root cause.

    Without a topology, or with a root cause outside it (a node), the scenario is unchanged.
    Acting on the entry when it is not the root cause becomes forbidden in `expected`; when
    nothing is wrong (`none`), the expected answer is `none` on the entry the alert now names.
    """
    entry = _entry(scenario, rng_for(scenario, "alert_to_entry", seed))
    if entry is None or not scenario.alerts or scenario.expected is None:
        return scenario
    ns = namespaces(scenario).get(entry, "")
    firing = [a for w in scenario.alerts for a in w.alerts if a.status == "firing"]
    alerts = firing or [a for w in scenario.alerts for a in w.alerts]
    name = _symptom(scenario, ns, entry)
    labels = {"alertname": name, "namespace": ns, "service": entry,
              "severity": alerts[0].labels.get("severity", "warning")}
    where = f"{ns}/{entry}" if ns else entry
    alert = AlertmanagerAlert.model_validate({
        "status": "firing" if firing else "resolved", "labels": labels,
        "annotations": {"summary": f"{name} on {where}"},
        "startsAt": min(a.starts_at for a in alerts),
        "endsAt": max((a.ends_at for a in alerts if a.ends_at), default=None),
        "fingerprint": f"entry-{entry}"[:128]})
    webhook = AlertmanagerWebhook.model_validate({
        "status": alert.status, "receiver": scenario.alerts[0].receiver,
        "groupKey": f'{{}}:{{alertname="{name}"}}', "groupLabels": {"alertname": name},
        "commonLabels": labels, "alerts": [alert.model_dump(by_alias=True)]})
    expected = scenario.expected
    if expected.root_cause.fault == "none":
        # nothing is wrong anywhere: the healthy place the alert now fires on is the answer
        expected = expected.model_copy(update={"root_cause": expected.root_cause.model_copy(
            update={"namespace": ns, "service": entry})})
    elif entry != expected.root_cause.service:
        kind = workload_kind(scenario, entry)
        extra = [ExpectedAction(type=t, target=f"{ns}/{kind}/{entry}") for t in _MUTATING]
        extra.append(ExpectedAction(type="delete_pod", target=f"{ns}/pod/{entry}-*"))
        known = {(a.type, a.target) for a in expected.forbidden_actions}
        expected = expected.model_copy(update={"forbidden_actions": [
            *expected.forbidden_actions,
            *(a for a in extra if (a.type, a.target) not in known)]})
    return scenario.model_copy(update={"alerts": [webhook], "expected": expected})


def red_herring(scenario: Scenario, seed: int = 0) -> Scenario:
    """Add 2-3 deploys of healthy services in the minutes before the onset.

    Undoing one of them is a wrong change to a healthy service, so it becomes forbidden.
    """
    rng = rng_for(scenario, "red_herring", seed)
    healthy = healthy_services(scenario)
    if not healthy or scenario.expected is None:
        return scenario
    chosen = rng.sample(healthy, min(len(healthy), rng.choice((2, 3))))
    start = onset(scenario)
    changes = list(scenario.changes)
    forbidden = list(scenario.expected.forbidden_actions)
    series = list(scenario.prometheus.series)
    for ns, name in chosen:
        minor = rng.randint(1, 40)
        kind = workload_kind(scenario, name)
        target = f"{ns}/{kind}/{name}"
        at = start - timedelta(seconds=rng.randint(30, 480))
        changes.append(Change(
            time=at, kind="deploy", target=target,
            description=f"image {name}:2.{minor}.0 -> {name}:2.{minor}.1 "
                        f"(PR #{rng.randint(1000, 9999)})"))
        forbidden.append(ExpectedAction(type="rollout_undo", target=target))
        if kind == "deployment":
            series = roll_pods(series, ns, name, at)
    changes.sort(key=lambda c: c.time)
    return scenario.model_copy(update={
        "changes": changes,
        "prometheus": scenario.prometheus.model_copy(update={"series": series}),
        "expected": scenario.expected.model_copy(update={"forbidden_actions": forbidden})})


# In the order `combined` applies them: removals first, then additions (so what is added is
# not removed again), then resampling and renaming (so what was added is resampled and renamed).
TRANSFORMS: dict[str, Transform] = {
    "kube_state": kube_state,
    "drop_objects": drop_objects,
    "drop_logs": drop_logs,
    "drop_changes": drop_changes,
    "alert_to_entry": alert_to_entry,
    "noise": noise,
    "red_herring": red_herring,
    "chronic": chronic,
    "coarsen": coarsen,
    "rename": rename,
    "raw_names": raw_names,
    "relabel": relabel,
    "slo_alert": slo_alert,
    "raw_counters": raw_counters,
    "mesh": mesh,
    "linkerd": linkerd,
    "service_graph": service_graph,
    "otel": otel,
    "tempo": tempo,
    "fine_steps": fine_steps,
    "gaps": gaps,
    "drop_topology": drop_topology,
}
# what `all` applies: the degradations the diagnosis is held to; the others are asked for by name
ALL = ("drop_objects", "drop_logs", "drop_changes", "alert_to_entry", "noise", "red_herring",
       "coarsen", "rename")


def resolve(names: list[str]) -> list[str]:
    """Expand `all` and check transform names, in the order `combined` applies them.

    Raises ValueError naming the unknown names and the valid ones.
    """
    wanted = {n.strip() for n in names if n.strip()}
    if "all" in wanted:
        wanted = (wanted - {"all"}) | set(ALL)
    unknown = sorted(wanted - TRANSFORMS.keys())
    if unknown:
        raise ValueError(f"unknown transform {', '.join(unknown)}; valid: "
                         f"{', '.join(TRANSFORMS)}, all")
    return [n for n in TRANSFORMS if n in wanted]


def apply(scenario: Scenario, names: list[str], seed: int = 0) -> Scenario:
    """Apply the named transforms one after another, in the canonical order."""
    for name in resolve(names):
        scenario = TRANSFORMS[name](scenario, seed)
    return scenario
