"""Alert rules over the sandbox's telemetry, and the Alertmanager webhooks they produce.

The rules are the usual kube-prometheus and RED-method ones. Evaluation keeps Prometheus'
pending -> firing -> resolved states (with `for` durations in simulated time); notification
groups alerts by namespace and alert name, as an Alertmanager route would, and emits
webhook v4 payloads with Alertmanager's label fingerprints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from warroom.sandbox.metrics import SeriesStore
from warroom.sandbox.model import ObjectStore, rfc3339

ZERO_TIME = "0001-01-01T00:00:00Z"
Found = tuple[dict[str, str], dict[str, str], float]  # labels, annotations, for seconds


def fingerprint(labels: dict[str, str]) -> str:
    """Return Alertmanager's label-set fingerprint (FNV-1a 64 over sorted names and values)."""
    value = 0xCBF29CE484222325
    for name in sorted(labels):
        for chunk in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in chunk:
                value ^= byte
                value = (value * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def _latest(series: SeriesStore, query: str, now: datetime) -> list[tuple[dict[str, str], float]]:
    """Return the samples recorded at `now` (a deleted pod's series is stale at once)."""
    at = now.timestamp()
    return [(labels, samples[-1][1]) for labels, samples in series.select(query)
            if samples and abs(samples[-1][0] - at) < 1e-3]


def evaluate_rules(store: ObjectStore, series: SeriesStore, now: datetime) -> list[Found]:
    """Return every alert whose condition holds now."""
    found: list[Found] = []

    def add(name: str, severity: str, labels: dict[str, str], summary: str, for_s: float,
            **extra: str) -> None:
        found.append(({"alertname": name, "severity": severity, **labels},
                      {"summary": summary, **extra}, for_s))

    for labels, value in _latest(series, "service:errors:ratio_rate1m", now):
        if value > 0.05:
            add("HighErrorRate", "critical", _svc(labels), f"{labels['service']} is failing "
                f"{value:.0%} of requests", 60, description=f"error ratio {value:.3f} > 0.05")
    for labels, value in _latest(series, "service:latency_seconds:p99_1m", now):
        if value > 1.0:
            add("HighLatencyP99", "critical" if value > 2.5 else "warning", _svc(labels),
                f"{labels['service']} p99 latency is {value:.2f}s", 60)
    for labels, value in _latest(series, "pod:cpu_throttled:ratio", now):
        if value > 0.25:
            add("CPUThrottlingHigh", "warning", _pod(labels), f"{value:.0%} throttling of CPU "
                f"in namespace {labels['namespace']} for container {labels['container']} in "
                f"pod {labels['pod']}", 60)
    for labels, value in _latest(series, "pod:memory_working_set:ratio", now):
        if value > 0.9:
            add("ContainerMemoryNearLimit", "warning", _pod(labels), f"container "
                f"{labels['container']} uses {value:.0%} of its memory limit", 30)
    for labels, value in _latest(series, "pvc:usage:ratio", now):
        if value > 0.9:
            add("KubePersistentVolumeFillingUp", "critical" if value > 0.97 else "warning",
                {"namespace": labels["namespace"], "persistentvolumeclaim":
                 labels["persistentvolumeclaim"], "job": "kubelet"}, f"PersistentVolume "
                f"claimed by {labels['persistentvolumeclaim']} is {value:.1%} full", 60)
    for labels, value in _latest(series, "db:connections:ratio", now):
        if value > 0.9:
            add("DatabaseConnectionsSaturated", "critical", _svc(labels),
                f"{labels['service']} uses {value:.0%} of max_connections", 60)
    for labels, value in _latest(series, "probe:ssl_expiry_seconds", now):
        if value < 7 * 86400:
            add("SSLCertExpiringSoon", "critical" if value < 0 else "warning",
                {**_svc(labels), "job": "blackbox", "instance": f"https://{labels['service']}."
                 f"{labels['namespace']}.svc:443"}, f"certificate of {labels['service']} "
                f"{'expired' if value < 0 else 'expires soon'}", 0)
    for labels, value in _latest(series, 'coredns_dns_responses:rate1m{rcode="SERVFAIL"}', now):
        if value > 50:
            add("CoreDNSErrorsHigh", "critical", _svc(labels), f"CoreDNS is returning "
                f"SERVFAIL for {value:.0f} requests/s", 60)
    for pod in store.list("Pod"):
        meta = pod["metadata"]
        labels = {"namespace": meta["namespace"], "pod": meta["name"],
                  "service": meta.get("labels", {}).get("app", "")}
        phase = pod.get("status", {}).get("phase")
        if phase in ("Pending", "Unknown"):
            add("KubePodNotReady", "warning", {**labels, "job": "kube-state-metrics"},
                f"Pod {meta['namespace']}/{meta['name']} has been in a non-ready state", 60)
        for status in pod.get("status", {}).get("containerStatuses", []):
            clabels = {**labels, "container": status["name"], "job": "kube-state-metrics"}
            waiting = status.get("state", {}).get("waiting", {}).get("reason", "")
            last = status.get("lastState", {}).get("terminated", {})
            recent = bool(last) and now - datetime.fromisoformat(last["finishedAt"]) < \
                timedelta(minutes=5)
            if status.get("restartCount", 0) >= 2 and (recent or waiting == "CrashLoopBackOff"):
                add("KubePodCrashLooping", "warning", clabels, f"Pod {meta['namespace']}/"
                    f"{meta['name']} ({status['name']}) is restarting "
                    f"({status['restartCount']} restarts, last: {last.get('reason', waiting)})", 0)
            if waiting in ("ErrImagePull", "ImagePullBackOff"):
                add("KubeContainerWaiting", "warning", clabels, f"container {status['name']} in "
                    f"pod {meta['name']} has been waiting", 30, reason=waiting)
            if last.get("reason") == "OOMKilled" and now - datetime.fromisoformat(
                    last["finishedAt"]) < timedelta(minutes=10):
                add("KubeContainerOOMKilled", "warning", clabels, f"container "
                    f"{status['name']} in pod {meta['name']} was OOMKilled", 0)
    for deployment in store.list("Deployment"):
        for condition in deployment.get("status", {}).get("conditions", []):
            if condition.get("reason") == "ProgressDeadlineExceeded":
                meta = deployment["metadata"]
                add("KubeDeploymentRolloutStuck", "warning", {
                    "namespace": meta["namespace"], "deployment": meta["name"],
                    "service": meta["name"], "job": "kube-state-metrics"},
                    f"rollout of deployment {meta['namespace']}/{meta['name']} is stuck", 0)
    for hpa in store.list("HorizontalPodAutoscaler"):
        status, meta = hpa.get("status", {}), hpa["metadata"]
        if status.get("currentReplicas") == hpa["spec"]["maxReplicas"] and status.get(
                "desiredReplicas", 0) >= hpa["spec"]["maxReplicas"]:
            add("KubeHpaMaxedOut", "warning", {"namespace": meta["namespace"],
                "horizontalpodautoscaler": meta["name"], "service": meta["name"],
                "job": "kube-state-metrics"}, f"HPA {meta['namespace']}/{meta['name']} has "
                "been running at max replicas", 60)
    for node in store.list("Node"):
        for condition in node["status"].get("conditions", []):
            if condition["type"] == "Ready" and condition["status"] != "True":
                add("KubeNodeNotReady", "critical", {"node": node["metadata"]["name"],
                    "job": "kube-state-metrics"}, f"{node['metadata']['name']} has been "
                    "unready", 30)
    return found


def _svc(labels: dict[str, str]) -> dict[str, str]:
    return {"namespace": labels["namespace"], "service": labels["service"]}


def _pod(labels: dict[str, str]) -> dict[str, str]:
    service = labels["pod"].rsplit("-", 2)[0] if labels["pod"].count("-") >= 2 else \
        labels["pod"].rsplit("-", 1)[0]
    return {"namespace": labels["namespace"], "pod": labels["pod"],
            "container": labels["container"], "service": labels["container"] or service}


@dataclass
class Evaluator:
    """Prometheus' rule states plus an Alertmanager route: firing and resolved notifications."""

    external_url: str = "http://sandbox.warroom.local"
    receiver: str = "warroom"
    pending: dict[str, datetime] = field(default_factory=dict)
    firing: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)  # every webhook sent

    def evaluate(self, found: list[Found], now: datetime) -> list[dict[str, Any]]:
        """Advance the rule states and return the webhook payloads to send now."""
        active: dict[str, Found] = {fingerprint(labels): (labels, ann, for_s)
                                    for labels, ann, for_s in found}
        changed: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for fp, (labels, notes, for_s) in active.items():
            since = self.pending.setdefault(fp, now)
            if fp not in self.firing and (now - since).total_seconds() >= for_s:
                alert: dict[str, Any] = {"status": "firing", "labels": labels,
                                         "annotations": notes,
                         "startsAt": rfc3339(since), "endsAt": ZERO_TIME,
                         "generatorURL": f"{self.external_url}/graph?g0.expr="
                                         f"{labels['alertname']}", "fingerprint": fp}
                self.firing[fp] = alert
                changed.setdefault(_group(labels), []).append(alert)
        for fp in [fp for fp in self.pending if fp not in active]:
            del self.pending[fp]
            if fp in self.firing:
                alert = self.firing.pop(fp)
                resolved = {**alert, "status": "resolved", "endsAt": rfc3339(now)}
                changed.setdefault(_group(alert["labels"]), []).append(resolved)
        payloads = []
        for key, alerts in sorted(changed.items()):
            in_group = [a for a in self.firing.values() if _group(a["labels"]) == key]
            fps = {a["fingerprint"] for a in alerts}
            group = alerts + [a for a in in_group if a["fingerprint"] not in fps]
            payloads.append(self._payload(key, group))
        self.history.extend(payloads)
        return payloads

    def _payload(self, key: tuple[str, str], alerts: list[dict[str, Any]]) -> dict[str, Any]:
        namespace, alertname = key
        group_labels = {"alertname": alertname, **({"namespace": namespace} if namespace else {})}
        common = dict(alerts[0]["labels"])
        for alert in alerts[1:]:
            common = {k: v for k, v in common.items() if alert["labels"].get(k) == v}
        common_ann = dict(alerts[0]["annotations"])
        for alert in alerts[1:]:
            common_ann = {k: v for k, v in common_ann.items()
                          if alert["annotations"].get(k) == v}
        status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
        rendered = ", ".join(f'{k}="{v}"' for k, v in sorted(group_labels.items()))
        return {
            "version": "4", "groupKey": f"{{}}:{{{rendered}}}", "truncatedAlerts": 0,
            "status": status, "receiver": self.receiver, "groupLabels": group_labels,
            "commonLabels": common, "commonAnnotations": common_ann,
            "externalURL": self.external_url, "alerts": alerts,
        }


def _group(labels: dict[str, str]) -> tuple[str, str]:
    return labels.get("namespace", ""), labels["alertname"]
