"""Documents and similar past incidents as evidence: matched as text, weighed lightly."""

from __future__ import annotations

from warroom.agents.diagnostician.context import document_findings, history_findings
from warroom.agents.diagnostician.index import Index
from warroom.sensors.models import Document, SimilarIncident

from .diag_builders import node, series, snapshot


def test_status_page_names_the_external_host_and_infra_event_the_node() -> None:
    ix = Index.build(snapshot(
        objects=[node("k8s-worker-03")],
        topology=[("payments", "api.stripe.com")],
        documents=[
            Document(source="statuspage", title="api.stripe.com status",
                     text="Investigating - elevated error rates on api.stripe.com API requests"),
            Document(source="vsphere", title="infrastructure event",
                     text="VM k8s-worker-03 unreachable since 03:09"),
            Document(source="wiki", title="runbook", text="api.stripe.com is our PSP")]))
    found = {(f.service, f.fault) for f in document_findings(ix)}
    assert found == {("api.stripe.com", "external_dependency"),
                     ("k8s-worker-03", "node_failure")}


def test_activity_dump_names_the_busy_database() -> None:
    ix = Index.build(snapshot(
        series=[series("db:connections:ratio", [0.5] * 10, namespace="data",
                       service="orders-db")],
        documents=[Document(source="postgres", title="pg_stat_activity on orders-db",
                            text="max_connections=200, in use=199")]))
    assert [(f.namespace, f.service, f.fault) for f in document_findings(ix)] == [
        ("data", "orders-db", "database_saturation")]


def test_a_setting_or_a_small_lock_share_is_no_busy_database() -> None:
    def busy(text: str) -> bool:
        ix = Index.build(snapshot(
            series=[series("db:connections:ratio", [0.5] * 10, namespace="data",
                           service="orders-db")],
            documents=[Document(source="db", title="orders-db", text=text)]))
        return bool(document_findings(ix))

    assert not busy("Engine: postgres 15\nmax_connections: 1802\n")
    assert not busy("Top wait events: IO:DataFileWrite=0.9, CPU:user=0.6, Lock:relation=0.2")
    assert busy("Top wait events: Lock:relation=10.1, IO:DataFileWrite=1.9")
    assert busy("connections: max_connections=200, in use=199")


def test_similar_incidents_are_a_weak_generic_prior() -> None:
    ix = Index.build(snapshot(similar=[
        SimilarIncident(incident_id="i1", namespace="shop", service="cart",
                        fault="memory_leak", action="rollout_restart", outcome="success",
                        similarity=0.9),
        SimilarIncident(incident_id="i2", namespace="shop", service="cart", fault="bad_deploy",
                        outcome="success", similarity=0.2)]))
    (f,) = history_findings(ix)
    assert (f.service, f.fault, f.generic) == ("cart", "memory_leak", True)
    assert f.weight <= 0.2 and "i1" in f.evidence


def test_an_api_not_found_error_about_the_alerting_place_is_configuration() -> None:
    doc = Document(source="gitops", title="sync ledger-app",
                   text='ledger-app: one or more objects failed to apply, reason: configmaps '
                        '"ledger-settings" not found')
    ix = Index.build(snapshot(documents=[doc, doc]))
    found = document_findings(ix, [("gitops", "ledger-app")])
    assert [(f.service, f.fault) for f in found] == [("ledger-app", "config_error")]
    # the same error about a place no alert is on says nothing about the incident
    assert document_findings(ix, [("shop", "cart")]) == []
