"""Structured health reports: JSON tool output read by key and value, for the place it names."""

from __future__ import annotations

import json
from typing import Any

from warroom.agents.diagnostician.healthreports import health_facts, health_report_findings
from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.rules import diagnose_snapshot
from warroom.sensors.models import Document

from .diag_builders import alert, snapshot


def report(data: Any, title: str = "cluster_status") -> Document:
    return Document(source=title, title=title, text=json.dumps({"status": "success",
                                                                "error": None, "data": data}))


def test_flags_lists_and_status_words_are_read_whatever_the_product() -> None:
    facts = list(health_facts({
        "members": [{"name": "queue-0", "running": False}, {"name": "queue-1", "running": True}],
        "split_brain": True,
        "unreachable_peers": ["queue-0"],
        "partitions": [],  # empty: nothing unreachable
        "disk_alarm": False,  # a trouble flag that is off says nothing
        "status": "red"}))
    assert [f.path for f in facts] == ["members[0].running", "split_brain",
                                       "unreachable_peers", "status"]
    assert [f.network for f in facts] == [False, True, True, False]


def test_a_healthy_report_says_nothing() -> None:
    healthy = {"status": "success", "error": None,
               "data": {"nodes": [{"node": "a", "running": True, "partitions": []}],
                        "health": "green", "failed_checks": 0,
                        "settings": {"disk_alarm_enabled": True}}}
    assert list(health_facts(healthy)) == []


def test_a_partition_report_names_a_network_fault_on_the_place_it_names() -> None:
    members = [{"node": f"broker@broker-{i}.broker-headless", "running": i != 0} for i in range(3)]
    doc = report({"members": members, "network_partitions_detected": True,
                  "partition_details": [{"node": "broker@broker-2.broker-headless",
                                         "unreachable": ["broker@broker-0.broker-headless"]}]})
    page = alert({"alertname": "ManualInvestigation", "namespace": "queues",
                  "service": "broker"})
    report_ = diagnose_snapshot(snapshot(documents=[doc], alerts=[page]))
    top = report_.hypotheses[0]
    assert (top.namespace, top.service, top.fault) == ("queues", "broker", "network_latency")
    assert "network_partitions_detected=true" in top.evidence[0]


def test_members_down_without_a_reason_are_a_weaker_application_error() -> None:
    doc = report({"members": [{"name": "search-0", "healthy": False}]}, "search_health")
    ix = Index.build(snapshot(documents=[doc]))
    (found,) = health_report_findings(ix, [("data", "search")])
    assert (found.fault, found.weight) == ("application_error", 0.3)


def test_a_report_that_names_no_alerting_place_says_nothing_about_this_incident() -> None:
    doc = report({"members": [{"name": "ledger-0", "running": False}]})
    ix = Index.build(snapshot(documents=[doc]))
    assert health_report_findings(ix, [("shop", "cart")]) == []
    # a longer name that merely contains the place's name is another place
    other = report({"members": [{"name": "cart-archive-0", "running": False}]})
    ix = Index.build(snapshot(documents=[other]))
    assert health_report_findings(ix, [("shop", "cart")]) == []


def test_a_document_nested_past_any_report_is_read_without_breaking() -> None:
    deep = Document(source="dump", title="broker dump", text="[" * 100_000 + "]" * 100_000)
    nested = Document(source="dump", title="broker", text='{"a":' * 500 + '{"running": false}'
                      + "}" * 500)
    ix = Index.build(snapshot(documents=[deep, nested]))
    assert health_report_findings(ix, [("queues", "broker")]) == []
