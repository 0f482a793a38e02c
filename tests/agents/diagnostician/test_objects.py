"""Kubernetes API objects repaired into the shapes the analyzers read."""

from __future__ import annotations

from datetime import UTC, datetime

from warroom.agents.diagnostician.objects import as_int, meta, parse_time, repair


def test_labels_and_annotations_stay_strings_whatever_their_keys() -> None:
    raw = {"kind": "Deployment", "spec": {"replicas": "3"}, "metadata": {
        "name": "api", "namespace": "shop", "labels": {"count": "3", "name": "api", "tier": 2},
        "annotations": {"replicas": "5", "note": None}}}
    fixed = repair(raw)
    assert fixed["spec"]["replicas"] == 3  # the object's own field is read as what it is
    assert fixed["metadata"]["labels"] == {"count": "3", "name": "api", "tier": "2"}
    assert fixed["metadata"]["annotations"] == {"replicas": "5", "note": ""}


def test_fields_of_the_wrong_shape_read_as_empty() -> None:
    raw = {"kind": "Pod", "metadata": "oops", "status": {
        "containerStatuses": {"name": "app"}, "conditions": [{"type": "Ready"}, "junk"],
        "phase": 3}, "spec": {"containers": None}}
    fixed = repair(raw)
    assert fixed["metadata"] == {} and meta(fixed) == {}
    assert fixed["status"]["containerStatuses"] == []  # a dict where a list belongs
    assert fixed["status"]["conditions"] == [{"type": "Ready"}]  # the one shape of item kept
    assert fixed["status"]["phase"] == "3"
    assert fixed["spec"]["containers"] == []


def test_integers_and_times_that_are_missing_or_malformed() -> None:
    assert as_int("4") == 4 and as_int(None) == 0 and as_int("many", default=-1) == -1
    assert parse_time("2026-12-07T10:00:00Z") == datetime(2026, 12, 7, 10, tzinfo=UTC)
    assert parse_time("0001-01-01T00:00:00Z") is None  # Go's zero time: never set
    assert parse_time("yesterday") is None and parse_time(None) is None
