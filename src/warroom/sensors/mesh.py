"""Calls between services, read from the labels of service-mesh and service-graph metrics.

A service mesh counts every request between two workloads under both their names, and so does
a tracing backend's service graph:

- Istio: `istio_requests_total{source_workload, source_workload_namespace,
  destination_workload, destination_workload_namespace, response_code, reporter}` and
  `istio_request_duration_milliseconds_bucket`; a call to a host outside the mesh names only
  `destination_service_name` (`destination_workload="unknown"`);
- Linkerd: `response_total{direction="outbound", deployment, namespace, dst_deployment,
  dst_namespace, classification, status_code}` and `response_latency_ms_bucket`;
- Tempo's and the OpenTelemetry Collector's service graph:
  `traces_service_graph_request_total{client, server}`, `..._request_failed_total`,
  `..._request_server_seconds_bucket`.

Such a series is a call graph edge (caller -> callee) and, as a dashboard of the mesh reads it,
a measurement of the callee: its answers to that caller. `calls` gives the edges (the snapshot's
topology adds them, `service.take_snapshot`); `at_callee` relabels each such series as the
callee's (`service`, `namespace`) with the caller beside it (`caller`), keeping only what
splits one callee's answers (its status label, a histogram's `le`, the reporting side), so the
rest of the mesh's labels (response flags, principals, versions, the scraped pod) do not split
or misplace it.
"""

from __future__ import annotations

from dataclasses import dataclass

from warroom.sensors.models import Series, status_label

# (caller labels, callee labels, caller namespace label, callee namespace label, whether a
# series names a call without its caller), each kind of name most specific first. Only Istio
# names the callee of a request from outside the mesh; `server` alone is too common a label
_CONVENTIONS = (
    (("source_workload", "source_canonical_service", "source_app"),
     ("destination_workload", "destination_canonical_service", "destination_app",
      "destination_service_name"),
     "source_workload_namespace", "destination_workload_namespace", True),  # Istio
    (("deployment", "statefulset", "daemonset"),
     ("dst_deployment", "dst_statefulset", "dst_daemonset", "dst_service"),
     "namespace", "dst_namespace", False),  # Linkerd, outbound
    (("client",), ("server",), "client_namespace", "server_namespace", False),  # service graphs
)
# what a mesh writes where it does not know a side (traffic from outside the mesh)
_UNKNOWN = {"", "unknown", "unknown_service"}
# labels of a call's series that split the callee's answers, kept by `at_callee` (of several
# status labels, the first of STATUS_LABELS)
_KEPT = ("__name__", "le", "quantile", "reporter", "direction")
# the namespace a Kubernetes callee's name is qualified with (`reviews.default.svc...`)
_SERVICE_DOMAIN = ".svc."


@dataclass(frozen=True)
class Call:
    """One caller -> callee edge as a series' labels name it; namespaces may be ''."""

    caller: str
    caller_namespace: str
    callee: str
    callee_namespace: str


def _first(labels: dict[str, str], keys: tuple[str, ...]) -> str:
    return next((labels[k] for k in keys if labels.get(k, "") not in _UNKNOWN), "")


def call_of(labels: dict[str, str]) -> Call | None:
    """Return the call a series' labels name, or None when they name no callee."""
    for callers, callees, caller_ns, callee_ns, callerless in _CONVENTIONS:
        callee, caller = _first(labels, callees), _first(labels, callers)
        if not callee or not (caller or callerless):
            continue
        namespace = _first(labels, (callee_ns,))
        if _SERVICE_DOMAIN in callee:  # an in-cluster host name: `name.namespace.svc...`
            callee, namespace = callee.split(".")[:2]
        elif not namespace and labels.get("reporter") != "source":
            # the namespace of the pod it was scraped from: a callee's own report, or a
            # caller's where the mesh tells no side (most calls stay in one namespace); what
            # a caller reported of an unnamed namespace is a host outside the cluster
            namespace = labels.get("namespace", "")
        return Call(caller=caller, caller_namespace=_first(labels, (caller_ns,)),
                    callee=callee, callee_namespace=namespace)
    return None


def calls(series: list[Series]) -> list[tuple[str, str]]:
    """Return the distinct (caller, callee) edges the series name, in order of appearance."""
    out: dict[tuple[str, str], None] = {}
    for s in series:
        call = call_of(s.metric)
        if call is not None and call.caller and call.caller != call.callee:
            out[(call.caller, call.callee)] = None
    return list(out)


def at_callee(series: list[Series]) -> list[Series]:
    """Return the series with every call's series relabelled as a measurement of its callee."""
    out: list[Series] = []
    changed = False
    for s in series:
        call = call_of(s.metric)
        if call is None:
            out.append(s)
            continue
        changed = True
        labels = {k: s.metric[k] for k in _KEPT if s.metric.get(k)}
        if status := status_label(s.metric):
            labels[status] = s.metric[status]
        labels.update(service=call.callee, namespace=call.callee_namespace)
        if call.caller:
            labels["caller"] = call.caller
        out.append(s.model_copy(update={"metric": labels}))
    return out if changed else series
