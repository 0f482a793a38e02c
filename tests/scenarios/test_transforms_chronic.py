"""`chronic` adds workloads broken for days beside the root cause, and forbids touching them."""

from __future__ import annotations

from datetime import datetime, timedelta

from transform_kit import sample

from warroom.scenarios.transforms import resolve
from warroom.scenarios.transforms_chronic import chronic


def test_two_or_three_old_broken_workloads_join_the_root_causes_namespace() -> None:
    sc = sample("gen-bad-deploy-easy-058")
    out = chronic(sc, 7)
    assert out.expected is not None and sc.expected is not None
    added = out.kubernetes.objects[len(sc.kubernetes.objects):]
    deployments = [o for o in added if o["kind"] == "Deployment"]
    assert 2 <= len(deployments) <= 3
    assert {o["metadata"]["namespace"] for o in added} == {sc.expected.root_cause.namespace}
    for pod in (o for o in added if o["kind"] == "Pod"):
        created = datetime.fromisoformat(pod["metadata"]["creationTimestamp"])
        assert sc.now - created >= timedelta(days=2)
    assert all(o["firstTimestamp"] < o["lastTimestamp"] for o in added if o["kind"] == "Event")
    # nothing else changes but what acting on them would be: forbidden
    assert out.model_dump(exclude={"kubernetes", "expected"}) == \
        sc.model_dump(exclude={"kubernetes", "expected"})
    targets = {a.target for a in out.expected.forbidden_actions} - \
        {a.target for a in sc.expected.forbidden_actions}
    ns = sc.expected.root_cause.namespace
    assert {f"{ns}/deployment/{o['metadata']['name']}" for o in deployments} <= targets
    assert chronic(sc, 7) == out and "chronic" in resolve(["chronic"])


def test_without_objects_there_is_no_cluster_to_add_to() -> None:
    sc = sample("gen-bad-deploy-easy-058")
    bare = sc.model_copy(update={"kubernetes": sc.kubernetes.model_copy(update={"objects": []})})
    assert chronic(bare) == bare
