from __future__ import annotations

from collections.abc import Callable

import pytest

from warroom.agents.models import DiagnosisReport
from warroom.agents.ports import DebateContext
from warroom.agents.solver import POLICY, solve

Make = Callable[..., DebateContext]
Diag = Callable[..., DiagnosisReport]


def test_oom_raises_the_killed_containers_limit_by_half(make_ctx: Make, diag: Diag) -> None:
    plan = solve(make_ctx(), diag(("shop", "checkout", "memory_limit_too_low", 0.9)))
    top = plan.candidates[0]
    assert top.action.type == "set_resources"
    assert top.action.target == "shop/deployment/checkout"
    assert top.action.params == {"container": "checkout", "limits": {"memory": "768Mi"}}
    assert "kubectl" in top.kubectl and "768Mi" in top.kubectl
    assert 0 < top.blast_radius <= 50
    assert plan.candidates[-1].action.type == "escalate"
    assert any(f.kind == "resources" for f in plan.followups)


def test_bad_deploy_rolls_back_to_the_previous_revision(make_ctx: Make, diag: Diag) -> None:
    plan = solve(make_ctx(), diag(("shop", "checkout", "bad_deploy", 0.85)))
    top = plan.candidates[0]
    assert (top.action.type, top.action.params) == ("rollout_undo", {"to_revision": 1})
    assert "--to-revision=1" in top.kubectl


def test_after_a_rollback_the_revision_it_removed_is_never_the_way_back(make_ctx: Make,
                                                                        diag: Diag) -> None:
    # revision 1 came back as revision 3; revision 2 is the deploy that rollback undid, so a
    # second bad_deploy diagnosis (the alert flapped after the fix) has no revision to go to
    ctx = make_ctx()
    for obj in ctx.evidence.objects:
        annotations = obj.get("metadata", {}).get("annotations", {})
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "checkout":
            annotations["deployment.kubernetes.io/revision"] = "3"
        if obj["kind"] == "ReplicaSet" and annotations["deployment.kubernetes.io/revision"] == "1":
            annotations.update({"deployment.kubernetes.io/revision": "3",
                                "deployment.kubernetes.io/revision-history": "1"})
    plan = solve(ctx, diag(("shop", "checkout", "bad_deploy", 0.9)))
    assert [c.action.type for c in plan.candidates] == ["escalate"]


def test_surge_raises_the_hpa_ceiling(make_ctx: Make, diag: Diag) -> None:
    plan = solve(make_ctx(), diag(("shop", "cart", "traffic_surge", 0.8)))
    top = plan.candidates[0]
    assert top.action.type == "set_hpa"
    assert top.action.target == "shop/horizontalpodautoscaler/cart"
    assert top.action.params == {"min_replicas": 2, "max_replicas": 6}
    # scaling a workload pinned at its HPA ceiling would be undone: not proposed
    assert all(c.action.type != "scale" for c in plan.candidates)


def test_cpu_saturation_raises_the_limit_then_scales_and_suggests_an_hpa(make_ctx: Make,
                                                                           diag: Diag) -> None:
    # demand did not rise (that would be a traffic surge): the pods need more CPU for the
    # same work, so the limit comes before more replicas
    plan = solve(make_ctx(), diag(("web", "frontend", "cpu_saturation", 0.8)))
    types = [c.action.type for c in plan.candidates]
    assert types[:3] == ["set_resources", "scale", "set_hpa"]
    assert plan.candidates[0].action.params == {"container": "frontend",
                                                "limits": {"cpu": "800m"}}
    assert plan.candidates[1].action.params == {"replicas": 6}
    assert any(f.kind == "hpa" and "autoscale" in f.change for f in plan.followups)


def test_node_failure_cordons_before_draining(make_ctx: Make, diag: Diag) -> None:
    plan = solve(make_ctx(), diag(("", "w2", "node_failure", 0.9)))
    assert [c.action.type for c in plan.candidates] == ["cordon_node", "drain_node", "escalate"]
    assert plan.candidates[0].action.target == "/node/w2"


@pytest.mark.parametrize("fault", ["dns_failure", "external_dependency", "application_error"])
def test_escalation_only_faults(make_ctx: Make, diag: Diag, fault: str) -> None:
    plan = solve(make_ctx(), diag(("shop", "checkout", fault, 0.9)))
    assert [c.action.type for c in plan.candidates] == ["escalate"]
    assert fault in plan.candidates[0].action.params["reason"]


def test_healthy_is_no_action_and_abstention_escalates(make_ctx: Make, diag: Diag) -> None:
    assert solve(make_ctx(), diag(("shop", "checkout", "none", 0.9))).candidates[
        0].action.type == "no_action"
    plan = solve(make_ctx(), diag(("shop", "checkout", "bad_deploy", 0.3), abstain=True))
    assert [c.action.type for c in plan.candidates] == ["escalate"]


def test_config_error_without_a_config_change_escalates(make_ctx: Make, diag: Diag) -> None:
    # revisions 1 and 2 differ only by image: the config did not roll out with a revision
    plan = solve(make_ctx(), diag(("shop", "checkout", "config_error", 0.9)))
    assert [c.action.type for c in plan.candidates] == ["escalate"]


def test_learned_trust_reorders_within_the_policy(make_ctx: Make, diag: Diag) -> None:
    trust = {"cpu_saturation/set_resources": 0.05, "cpu_saturation/set_hpa": 0.95}
    plan = solve(make_ctx(playbook_trust=trust),
                 diag(("web", "frontend", "cpu_saturation", 0.8)))
    assert plan.candidates[0].action.type == "set_hpa"


def test_every_fault_has_a_policy() -> None:
    from warroom.agents.models import FAULTS

    assert set(POLICY) == set(FAULTS)


def test_undo_without_replicaset_history_follows_the_change_feed(make_ctx: Make,
                                                                 diag: Diag) -> None:
    from datetime import timedelta

    from warroom.sensors.models import Change

    ctx = make_ctx()
    ctx.evidence.objects = [o for o in ctx.evidence.objects if o["kind"] != "ReplicaSet"]
    d = diag(("shop", "checkout", "bad_deploy", 0.9))
    assert [c.action.type for c in solve(ctx, d).candidates] == ["escalate"]
    ctx.evidence.changes = [Change(time=ctx.evidence.now - timedelta(minutes=20), kind="deploy",
                                   target="shop/deployment/checkout",
                                   description="image checkout:2 -> checkout:3")]
    top = solve(ctx, d).candidates[0]
    assert (top.action.type, top.action.params) == ("rollout_undo", {})
    assert "checkout:3" in top.rationale
    config = solve(ctx, diag(("shop", "checkout", "config_error", 0.9)))
    assert [c.action.type for c in config.candidates] == ["escalate"]  # an image bump only


def test_only_the_top_ranked_root_cause_gets_a_mutating_action(make_ctx: Make,
                                                                diag: Diag) -> None:
    # the runner-up (the caller frontend, inheriting checkout's trouble) is close behind the
    # leader, yet nothing may be done to it: acting on a caller for its callee's fault is how
    # the wrong service gets scaled
    plan = solve(make_ctx(), diag(("shop", "checkout", "application_error", 0.6),
                                  ("web", "frontend", "cpu_saturation", 0.55)))
    assert [c.action.type for c in plan.candidates] == ["escalate"]
    assert all(c.hypothesis == 0 for c in plan.candidates)


def test_a_deployment_known_only_by_its_pods_gets_their_limit_raised(make_ctx: Make,
                                                                      diag: Diag) -> None:
    # the evidence holds an OOMKilled pod named by a ReplicaSet of Deployment "worker", but
    # not the Deployment: the pod's spec is its template, so its limit can be raised
    ctx = make_ctx()
    ctx.evidence.objects = [{
        "kind": "Pod", "metadata": {"namespace": "jobs", "name": "worker-6958c5bdd8-69gtn"},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.35",
                                 "resources": {"limits": {"memory": "50Mi"}}}]},
        "status": {"containerStatuses": [{"name": "main", "restartCount": 16, "lastState": {
            "terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}}]
    top = solve(ctx, diag(("jobs", "worker", "memory_limit_too_low", 0.9))).candidates[0]
    assert (top.action.type, top.action.target) == ("set_resources", "jobs/deployment/worker")
    assert top.action.params == {"container": "main", "limits": {"memory": "128Mi"}}
    # how many replicas it runs is not known from its pods: no scaling on a guess
    cpu = solve(ctx, diag(("jobs", "worker", "cpu_saturation", 0.9)))
    assert all(c.action.type not in ("scale", "set_hpa") for c in cpu.candidates)
    # a pod of another controller (a StatefulSet's ordinal) stands for no Deployment
    ctx.evidence.objects[0]["metadata"]["name"] = "worker-0"
    plan = solve(ctx, diag(("jobs", "worker", "memory_limit_too_low", 0.9)))
    assert [c.action.type for c in plan.candidates] == ["escalate"]


def test_a_config_error_on_a_rollout_stuck_on_its_new_revision_is_undone(make_ctx: Make,
                                                                          diag: Diag) -> None:
    # no revision annotations and no template diff; the new ReplicaSet never got a pod ready
    # while the old one still serves: the config came with the new revision
    ctx = make_ctx()
    objs = [o for o in ctx.evidence.objects if o["kind"] != "ReplicaSet"]
    for hash_, want, ready in (("7f9dd8b6c4", 1, 1), ("5c8d7f6b9a", 2, 0)):
        objs.append({"kind": "ReplicaSet",
                     "metadata": {"namespace": "shop", "name": f"checkout-{hash_}",
                                  "ownerReferences": [{"kind": "Deployment", "name": "checkout"}]},
                     "spec": {"replicas": want}, "status": {"readyReplicas": ready}})
    ctx.evidence.objects = objs
    plan = solve(ctx, diag(("shop", "checkout", "config_error", 0.9)))
    top = plan.candidates[0]
    assert (top.action.type, top.action.params) == ("rollout_undo", {})
    assert "checkout-7f9dd8b6c4" in top.rationale
    # both revisions serving: nothing says the config came with the newer one
    objs[-1]["status"]["readyReplicas"] = 2
    plan = solve(ctx, diag(("shop", "checkout", "config_error", 0.9)))
    assert [c.action.type for c in plan.candidates] == ["escalate"]
