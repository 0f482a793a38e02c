"""Malformed or partial evidence never breaks the Diagnostician; it still answers."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.agents.diagnostician import diagnose_snapshot
from warroom.sensors.models import Series

from .diag_builders import NOW, alert, logs, series, snapshot

_json: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["kind", "metadata", "status", "spec", "name", "namespace",
                         "ownerReferences", "containerStatuses", "conditions", "reason",
                         "involvedObject", "lastState", "terminated", "nodeName", "selector",
                         "labels", "addresses", "address"]),
        inner, max_size=4),
    max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(objects=st.lists(st.dictionaries(st.sampled_from(
    ["kind", "metadata", "status", "spec", "involvedObject", "reason", "message"]), _json,
    max_size=5) | st.fixed_dictionaries({"kind": st.sampled_from(
        ["Pod", "Node", "Event", "ReplicaSet", "Deployment", "Certificate", "Service",
         "HorizontalPodAutoscaler", "PersistentVolumeClaim"])}, optional={
        "metadata": _json, "status": _json, "spec": _json}), max_size=6),
       lines=st.lists(st.text(max_size=80), max_size=5))
def test_random_objects_and_lines_never_raise(objects: list[dict[str, Any]],
                                               lines: list[str]) -> None:
    report = diagnose_snapshot(snapshot(objects=objects, logs=[logs("ns", "p-1", lines)],
                                        alerts=[alert({"namespace": "ns", "service": "x"})]))
    assert report.hypotheses and 0 <= report.hypotheses[0].confidence <= 1


def test_empty_snapshot_and_odd_series() -> None:
    assert diagnose_snapshot(snapshot()).hypotheses[0].fault == "none"
    odd = [Series(metric={"__name__": "pod:cpu_usage:ratio"}, values=[(NOW.timestamp(), "NaN")]),
           Series(metric={}, values=[]),
           series("service:errors:ratio_rate1m", [float("inf")] * 3 + [0.1] * 20,
                  namespace="a", service="b")]
    report = diagnose_snapshot(snapshot(series=odd, topology=[("a", "a"), ("b", "a")]))
    assert report.hypotheses
