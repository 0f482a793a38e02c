"""What a series' or an alert's labels say it is about, whoever scraped or exported it.

Before anything is placed, labels are read as about what a series measures: labels a scrape
renamed (`exported_*`) are the exporter's again; node-exporter's series are its node's, not its
own pod's; span metrics are their service's, not the collector's that counted them;
OpenTelemetry's Kubernetes attributes (`k8s_pod_name`...) are the labels Prometheus'
Kubernetes discovery gives; a CloudWatch exporter's dimensions (`dimension_FunctionName`) the
names the other CloudWatch exporter gives (`function_name`). kube-state-metrics' owner series
say which workload a pod is of.
"""

from __future__ import annotations

import re
from typing import Any

from warroom.domain.subjects import OBJECT_EXPORTER_JOB, subject_labels
from warroom.sensors.models import Series

# labels that name the node a series or an alert is about: kube-prometheus relabels cAdvisor's
# and node-exporter's series with `node`, Prometheus' Helm chart with `kubernetes_node`, and
# node-exporter's `node_uname_info` says `nodename`
NODE_LABELS = ("node", "kubernetes_node", "nodename")
# node-exporter reports about the host it runs on: its series' names and its scrape job
_HOST_EXPORTER = re.compile(r"^node_")
_HOST_EXPORTER_JOB = re.compile(r"node[-_]?exporter", re.I)
# what a scrape adds about the exporter's own process, beside its job and instance
_SCRAPED_FROM = ("namespace", "service", "pod", "container", "endpoint")
# series a collector computes from other services' spans: the pod, namespace and Service its
# scrape gives them are the collector's own (their subject is their `service_name`; Grafana
# Tempo's metrics generator writes its own, whose subject is their `service`)
_COLLECTED = re.compile(r"^traces_span_?metrics_")
_SPAN_LABELS = ("span_kind", "span_name", "status_code")
# OpenTelemetry's Kubernetes attributes -> the labels Prometheus' discovery and
# kube-state-metrics give the same facts
_OTEL_K8S = {"k8s_namespace_name": "namespace", "k8s_pod_name": "pod",
             "k8s_container_name": "container", "k8s_node_name": "node",
             "k8s_deployment_name": "deployment", "k8s_statefulset_name": "statefulset",
             "k8s_daemonset_name": "daemonset", "k8s_job_name": "job_name",
             "k8s_cronjob_name": "cronjob"}
# the labels of a series that name no place of their own (only its scrape target)
_UNPLACED = frozenset({"__name__", "job", "instance"})
# a CamelCase word boundary (`DBInstanceIdentifier` reads `db_instance_identifier`, `5XXError`
# reads `5xx_error`)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[^a-z0-9]+")
# what a scrape target adds to every series it exposes (the ServiceMonitor's labels)
_TARGET_IDENTITY = ("namespace", "service", "pod", "container", "endpoint", "job", "instance")


def exporters_labels(labels: dict[str, str]) -> dict[str, str]:
    """Return a series' or an alert's labels as its exporter set them.

    Where an exporter's own label clashes with one its scrape target adds, Prometheus keeps the
    target's and renames the exporter's `exported_namespace`, `exported_service`... (NGINX
    ingress names its backend so; kube-state-metrics its subject, without `honorLabels`). The
    exporter's is what the series is about, and the target's `pod`, `job` and the rest name the
    exporter's own process, so they go.
    """
    if not any(k.startswith("exported_") for k in labels):
        return labels
    out = {k: v for k, v in labels.items()
           if not k.startswith("exported_") and k not in _TARGET_IDENTITY}
    out.update((k.removeprefix("exported_"), v) for k, v in labels.items()
               if k.startswith("exported_") and v)
    return out


def node_label(labels: dict[str, str]) -> str:
    """Return the node a node label names (`NODE_LABELS`), or ''."""
    return next((labels[k] for k in NODE_LABELS if labels.get(k)), "")


def from_host_exporter(labels: dict[str, str]) -> bool:
    """Tell whether a series or an alert is node-exporter's: about the host it runs on."""
    return (_HOST_EXPORTER.search(labels.get("__name__", "")) is not None
            or _HOST_EXPORTER_JOB.search(labels.get("job", "")) is not None)


def otel_labels(labels: dict[str, str]) -> dict[str, str]:
    """Return labels with OpenTelemetry's Kubernetes attributes (the collector's
    k8sattributes processor, the kubeletstats receiver: `k8s_namespace_name`, `k8s_pod_name`,
    `k8s_deployment_name`...) under the names Prometheus' Kubernetes discovery and
    kube-state-metrics give the same facts, where those are not set."""
    if not any(k.startswith("k8s_") for k in labels):
        return labels
    out = {k: v for k, v in labels.items() if k not in _OTEL_K8S}
    for otel, name in _OTEL_K8S.items():
        if labels.get(otel) and not labels.get(name):
            out[name] = labels[otel]
    return out


def snake_case(name: str) -> str:
    """Return a name in snake case: CamelCase (CloudWatch's, Datadog's) and any separator
    other than `_` (`latency-90`, `mem.used`, `pod:cpu_usage:ratio`) split into words."""
    return _SEPARATORS.sub("_", _CAMEL.sub("_", name).lower())


def cloudwatch_labels(labels: dict[str, str]) -> dict[str, str]:
    """Return labels with a CloudWatch exporter's dimensions (YACE's `dimension_FunctionName`,
    `dimension_DBInstanceIdentifier`...) under the snake-case names the CloudWatch exporter
    gives them (`function_name`, `db_instance_identifier`), where those are not set."""
    if not any(k.startswith("dimension_") for k in labels):
        return labels
    out = {k: v for k, v in labels.items() if not k.startswith("dimension_")}
    for key, value in labels.items():
        if key.startswith("dimension_") and value:
            out.setdefault(snake_case(key.removeprefix("dimension_")), value)
    return out


def _collected(labels: dict[str, str]) -> bool:
    """Tell whether a series' or an alert's labels are a collector's span metrics about the
    service in `service_name`: the series by its name, an alert (which has none) by the span
    labels its rule kept."""
    if not labels.get("service_name"):
        return False
    if name := labels.get("__name__", ""):
        return _COLLECTED.search(name) is not None
    return any(labels.get(k) for k in _SPAN_LABELS)


def own_labels(labels: dict[str, str], addresses: dict[str, str]) -> dict[str, str]:
    """Return a series' or an alert's labels as about what it measures, not who scraped it.

    Span metrics, and alerts on them, lose the labels their scrape gave them (the collector's
    pod, namespace and Service). OpenTelemetry's Kubernetes attributes take Prometheus' names
    (`otel_labels`). Labels a scrape renamed are the exporter's again (`exporters_labels`).
    node-exporter's series and alerts are about the host it runs on: `node` becomes the host
    of their `instance` (a node's name for its address, from `addresses`), and the pod,
    namespace, Service, container and endpoint a scrape gave them (kube-prometheus':
    node-exporter's own DaemonSet pod) go. kube-state-metrics' and the kubelet's are about the
    object they name (a pod, a workload, a volume claim, a node): the Service, endpoint,
    instance and job of their scrape go (`domain.subjects`).
    """
    if _collected(labels):
        labels = {k: v for k, v in labels.items() if k not in _SCRAPED_FROM}
    labels = exporters_labels(otel_labels(cloudwatch_labels(labels)))
    labels = subject_labels(labels)
    if from_host_exporter(labels) and (host := node_label(labels) or labels.get(
            "instance", "").rsplit(":", 1)[0] or labels.get("host", "")):
        labels = {k: v for k, v in labels.items() if k not in _SCRAPED_FROM}
        labels["node"] = host
    return _node_by_name(labels, addresses)


def _node_by_name(labels: dict[str, str], addresses: dict[str, str]) -> dict[str, str]:
    """A `node` label that gives one of a node's addresses (with a port or without, as a
    recording rule copies a plain scrape's `instance`) names the node itself."""
    node = labels.get("node", "")
    name = addresses.get(node) or addresses.get(node.rsplit(":", 1)[0]) if node else None
    return {**labels, "node": name} if name and name != node else labels


def node_addresses(objects: list[Any]) -> dict[str, str]:
    """Map every address of the snapshot's Node objects (InternalIP...) to the node's name;
    objects of any shape (as read, before `index.repair`) are skipped where malformed."""
    out: dict[str, str] = {}
    for obj in objects:
        if not isinstance(obj, dict) or obj.get("kind") != "Node":
            continue
        metadata, status = obj.get("metadata"), obj.get("status")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        addresses = status.get("addresses") if isinstance(status, dict) else None
        if not isinstance(name, str) or not name or not isinstance(addresses, list):
            continue
        for address in addresses:
            if isinstance(address, dict) and isinstance(address.get("address"), str):
                out[address["address"]] = name
    return out


def own_series(series: list[Series], addresses: dict[str, str]) -> list[Series]:
    """Return the series with their labels as about what they measure (`own_labels`)."""
    relabelled = any(k.startswith(("exported_", "k8s_", "dimension_"))
                     or k == "job" and (_HOST_EXPORTER_JOB.search(v)
                                        or OBJECT_EXPORTER_JOB.search(v))
                     or k == "node" and addresses
                     for s in series for k, v in s.metric.items())
    if not relabelled and not any(_HOST_EXPORTER.search(s.name) or _COLLECTED.search(s.name)
                                  for s in series):
        return series
    return [s if (m := own_labels(s.metric, addresses)) is s.metric else
            s.model_copy(update={"metric": m}) for s in series]


def placed_by_name(series: list[Series], places: set[str]) -> list[Series]:
    """Return the series with the place their metric name begins with as their `service`.

    A series with no label but its scrape target's (a CSV export's column `cartservice_cpu`,
    converted as it was named; a plain exporter's `checkout_http_requests_total{job,
    instance}`) may say its place only in its name: where the name begins with a place the
    snapshot knows (`places`: the call graph's, the alerts') and a separator, that place is its
    `service` and the rest its name (`cpu`). The longest such place wins.
    """
    ordered = sorted(places, key=len, reverse=True)
    out, changed = [], False
    for s in series:
        name = s.metric.get("__name__", "")
        place = None if set(s.metric) - _UNPLACED else next(
            (p for p in ordered if len(name) > len(p) + 1 and name.startswith(p)
             and name[len(p)] in "_-.:"), None)
        if place is None:
            out.append(s)
            continue
        changed = True
        out.append(s.model_copy(update={"metric": {
            **s.metric, "__name__": name[len(place) + 1:], "service": place}}))
    return out if changed else series


def owners_in_series(series: list[Series]) -> dict[tuple[str, str], str]:
    """Read which workload owns each pod from kube-state-metrics' `kube_pod_owner` and
    `kube_replicaset_owner` (a pod's ReplicaSet belongs to its Deployment)."""
    rs_owner = {(s.metric.get("namespace", ""), s.metric.get("replicaset", "")):
                s.metric.get("owner_name", "") for s in series
                if s.name == "kube_replicaset_owner" and s.metric.get("owner_name")}
    out: dict[tuple[str, str], str] = {}
    for s in series:
        ns, owner = s.metric.get("namespace", ""), s.metric.get("owner_name", "")
        if s.name == "kube_pod_owner" and s.metric.get("pod") and owner:
            kind = s.metric.get("owner_kind", "")
            out[(ns, s.metric["pod"])] = rs_owner.get((ns, owner), owner.rsplit("-", 1)[0]) \
                if kind == "ReplicaSet" else owner
    return out
