"""Check a model's answer against the evidence before it may change anything.

A place or object the evidence does not contain, or text that repeats an instruction, rejects
the whole answer: the rule answer stands. Nothing here trusts the model's numbers either; the
callers cap confidence and recompute risk and blast radius with the rule code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from warroom.agents.models import DiagnosisReport
from warroom.safety.sanitize import FENCE_OPEN, looks_like_instruction
from warroom.sensors.models import EvidenceSnapshot

_LABELS = ("namespace", "service", "deployment", "statefulset", "daemonset", "app", "pod",
           "container", "job", "node", "instance", "job_name", "destination_service",
           "source_service", "kubernetes_namespace", "kubernetes_pod_name")


class Rejected(Exception):
    """The answer names something the evidence does not hold, or repeats an instruction."""


@dataclass
class Places:
    """Every namespace and name (service, workload, pod, node) the evidence mentions."""

    namespaces: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    pairs: set[tuple[str, str]] = field(default_factory=set)  # exact places the rules named

    def add(self, namespace: str, name: str) -> None:
        """Record one place."""
        if namespace:
            self.namespaces.add(namespace)
        if name:
            self.names.add(name)

    def knows(self, namespace: str, name: str) -> bool:
        """Tell whether a (namespace, name) pair can be found in the evidence."""
        if (namespace, name) in self.pairs:
            return True
        return name in self.names and (not namespace or namespace in self.namespaces)


def places_of(snapshot: EvidenceSnapshot, diagnosis: DiagnosisReport | None = None) -> Places:
    """Collect the places of the snapshot (and of the rule diagnosis, itself drawn from it)."""
    places = Places()
    for obj in snapshot.objects:
        meta = obj.get("metadata") or {}
        places.add(str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        involved = obj.get("involvedObject") or {}
        places.add(str(involved.get("namespace") or ""), str(involved.get("name") or ""))
        node = (obj.get("spec") or {}).get("nodeName")
        if node:
            places.add("", str(node))
    for series in snapshot.series:
        for label in _LABELS:
            value = series.metric.get(label)
            if value:
                places.add(value if label in ("namespace", "kubernetes_namespace") else "",
                           "" if label in ("namespace", "kubernetes_namespace") else value)
    for alert in snapshot.alerts:
        for label in _LABELS:
            value = alert.labels.get(label)
            if value:
                places.add(value if label == "namespace" else "",
                           "" if label == "namespace" else value)
    for stream in snapshot.logs:
        places.add(stream.namespace, stream.pod)
    for caller, callee in snapshot.topology:
        places.add("", caller)
        places.add("", callee)
    for change in snapshot.changes:
        parts = change.target.split("/")
        if len(parts) == 3:
            places.add(parts[0], parts[2])
    for incident in snapshot.similar:
        places.add(incident.namespace, incident.service)
    for hyp in diagnosis.hypotheses if diagnosis else []:
        places.add(hyp.namespace, hyp.service)
        places.pairs.add((hyp.namespace, hyp.service))
    return places


def require_place(places: Places, namespace: str, name: str, what: str) -> None:
    """Reject the answer when (namespace, name) is not in the evidence."""
    if not places.knows(namespace, name):
        where = f"{namespace}/{name}" if namespace else name
        raise Rejected(f"{what} {where!r} is not in the evidence")


def require_clean(texts: Iterable[str], what: str) -> None:
    """Reject the answer when any of its text repeats an instruction or a flagged line."""
    for text in texts:
        if FENCE_OPEN in text or looks_like_instruction(text):
            raise Rejected(f"{what} repeats instruction-like text: {text[:120]!r}")
