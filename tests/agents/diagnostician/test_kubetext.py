"""kubectl text in documents: describe output and event listings read back into objects."""

from __future__ import annotations

from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.kubernetes import kubernetes_findings
from warroom.agents.diagnostician.kubetext import objects_from_documents
from warroom.sensors.models import Document

from .diag_builders import NOW, deployment, snapshot

_DESCRIBE = """Name:             books-7f9dd8b6c4-aaaaa
Namespace:        ledger
Node:             worker-3/10.0.0.3
Status:           Running
Controlled By:    ReplicaSet/books-7f9dd8b6c4
Containers:
  app:
    State:          Waiting
      Reason:       CrashLoopBackOff
    Last State:     Terminated
      Reason:       OOMKilled
      Exit Code:    137
    Ready:          False
    Restart Count:  7
Events:
  Type     Reason     Age                  From     Message
  ----     ------     ----                 ----     -------
  Normal   Pulled     12m (x8 over 40m)    kubelet  Container image "app:1" already present
  Warning  BackOff    2m (x120 over 38m)   kubelet  Back-off restarting failed container
"""

_EVENTS = "\n".join([
    "LAST SEEN   TYPE      REASON             OBJECT                      MESSAGE",
    "3m          Warning   FailedScheduling   pod/books-7f9dd8b6c4-bbbbb   0/3 nodes are "
    "available: 3 Insufficient memory.",
    "40d         Warning   FailedScheduling   pod/books-7f9dd8b6c4-ccccc   0/3 nodes are "
    "available: 3 Insufficient cpu."])


def test_describe_output_becomes_a_pod_and_its_events() -> None:
    objs = objects_from_documents([Document(title="kubectl describe pod books-7f9dd8b6c4-aaaaa",
                                            text=_DESCRIBE)], NOW)
    pods = [o for o in objs if o["kind"] == "Pod"]
    events = [o for o in objs if o["kind"] == "Event"]
    (cs,) = pods[0]["status"]["containerStatuses"]
    assert cs["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff" and cs["restartCount"] == 7
    assert {e["reason"]: e["count"] for e in events} == {"Pulled": 8, "BackOff": 120}
    ix = Index.build(snapshot(objects=deployment("ledger", "books"), documents=[
        Document(title="kubectl describe pod books-7f9dd8b6c4-aaaaa", text=_DESCRIBE)]))
    found = {(f.service, f.fault) for f in kubernetes_findings(ix, NOW)}
    assert ("books", "memory_limit_too_low") in found or ("books", "memory_leak") in found


def test_event_listings_keep_their_age_so_old_trouble_is_history() -> None:
    docs = [Document(title="kubectl events -n ledger", text=_EVENTS)]
    ix = Index.build(snapshot(objects=deployment("ledger", "books"), documents=docs))
    findings = kubernetes_findings(ix, NOW)
    assert [(f.service, f.fault) for f in findings] == [("books", "unschedulable")]
    assert "Insufficient memory" in findings[0].evidence


def test_text_the_api_objects_already_say_adds_nothing() -> None:
    pod_text = Document(title="kubectl describe pod books-7f9dd8b6c4-aaaaa", text=_DESCRIBE)
    ix = Index.build(snapshot(objects=deployment("ledger", "books"), documents=[pod_text,
                                                                                  pod_text]))
    assert len(ix.by_kind["Pod"]) == 1 and len(ix.by_kind["Event"]) == 2
