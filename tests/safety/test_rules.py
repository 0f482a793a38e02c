from __future__ import annotations

from typing import Any

import pytest

from warroom.agents.models import Action, Hypothesis
from warroom.safety.rules import LOCALISATION_MIN_CONFIDENCE, RuleContext, check_action


def rules(action: Action, ctx: RuleContext | None = None) -> set[str]:
    return {v.rule for v in check_action(action, ctx)}


@pytest.mark.parametrize(
    "action",
    [
        Action(type="rollout_restart", target="shop/deployment/checkout"),
        Action(type="rollout_undo", target="shop/deployment/checkout", params={"to_revision": 3}),
        Action(type="scale", target="shop/deployment/checkout", params={"replicas": 4}),
        Action(type="set_resources", target="shop/deployment/checkout",
               params={"container": "checkout", "limits": {"memory": "768Mi"}}),
        Action(type="set_hpa", target="shop/horizontalpodautoscaler/checkout",
               params={"min_replicas": 2, "max_replicas": 8}),
        Action(type="cordon_node", target="/node/worker-1"),
        Action(type="delete_pod", target="shop/pod/checkout-7f9dd8b6c4-x7gr9"),
        Action(type="escalate", params={"reason": "x"}),
        Action(type="no_action", params={"reason": "healthy"}),
    ],
)
def test_catalogue_actions_pass(action: Action) -> None:
    assert check_action(action) == []


@pytest.mark.parametrize(
    ("action", "rule"),
    [
        (Action(type="rollout_restart", target="shop/namespace/shop"), "forbidden_kind"),
        (Action(type="rollout_restart", target="shop/persistentvolumeclaim/data-0"),
         "forbidden_kind"),
        (Action(type="rollout_restart", target="shop/secret/db-password"), "forbidden_kind"),
        (Action(type="rollout_restart", target="shop/clusterrolebinding/admin"),
         "forbidden_kind"),
        (Action(type="scale", target="shop/deployment/checkout", params={"replicas": 0}),
         "scale_to_zero"),
        (Action(type="set_hpa", target="shop/deployment/checkout",
                params={"min_replicas": 0, "max_replicas": 3}), "scale_to_zero"),
        (Action(type="rollout_restart", target="shop/deployment/*"), "cluster_wide"),
        (Action(type="rollout_restart", target="/deployment/checkout"), "cluster_wide"),
        (Action(type="rollout_restart", target="checkout"), "target"),
        (Action(type="rollout_restart"), "target"),
        (Action(type="rollout_undo", target="shop/statefulset/checkout"), "catalogue"),
        (Action(type="delete_pod", target="/node/worker-1"), "catalogue"),
        (Action(type="escalate", target="shop/deployment/checkout"), "catalogue"),
        (Action(type="scale", target="shop/deployment/checkout",
                params={"replicas": 3, "command": "kubectl delete ns shop"}), "catalogue"),
        (Action(type="delete_pod", target="db/pod/orders-db-0"), "stateful_pod"),
        (Action(type="rollout_restart", target="db/statefulset/postgres"), "database"),
        (Action(type="scale", target="db/statefulset/orders-db", params={"replicas": 3}),
         "database"),
        (Action(type="rollout_restart", target="kube-system/deployment/coredns"),
         "system_namespace"),
        (Action(type="set_resources", target="shop/deployment/checkout",
                params={"container": "checkout", "limits": {"memory": "0Mi"}}), "params"),
        (Action(type="set_resources", target="shop/deployment/checkout",
                params={"limits": {"memory": "1Gi"}}), "params"),
    ],
)
def test_hard_rules_refuse(action: Action, rule: str) -> None:
    assert rule in rules(action)


def test_uncatalogued_type_is_refused_even_if_constructed_unchecked() -> None:
    action = Action.model_construct(type="delete_namespace", target="shop/namespace/shop",
                                    params={})
    assert rules(action) == {"catalogue"}


def node(name: str, ready: str, pressure: bool = False) -> dict[str, Any]:
    return {"kind": "Node", "metadata": {"name": name}, "status": {"conditions": [
        {"type": "Ready", "status": ready},
        {"type": "DiskPressure", "status": "True" if pressure else "False"}]}}


def test_drain_of_healthy_node_refused_but_failed_node_allowed() -> None:
    ctx = RuleContext(objects=[node("w1", "True"), node("w2", "Unknown")])
    assert "healthy_node" in rules(Action(type="drain_node", target="/node/w1"), ctx)
    assert rules(Action(type="drain_node", target="/node/w2"), ctx) == set()


def test_pod_owned_by_statefulset_cannot_be_deleted() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "cache-abc", "namespace": "shop",
                                        "ownerReferences": [{"kind": "StatefulSet"}]}}
    ctx = RuleContext(objects=[pod])
    assert "stateful_pod" in rules(Action(type="delete_pod", target="shop/pod/cache-abc"), ctx)


def test_statefulset_with_database_image_cannot_restart() -> None:
    sts = {"kind": "StatefulSet", "metadata": {"name": "store", "namespace": "shop"},
           "spec": {"template": {"spec": {"containers": [{"image": "docker.io/postgres:16"}]}}}}
    ctx = RuleContext(objects=[sts])
    assert "database" in rules(Action(type="rollout_restart", target="shop/statefulset/store"),
                               ctx)


def test_a_deployment_running_a_database_cannot_be_resized_even_known_only_by_its_pods() -> None:
    template = {"containers": [{"name": "main", "image": "mysql:8.4"}]}
    dep = {"kind": "Deployment", "metadata": {"name": "store", "namespace": "shop"},
           "spec": {"template": {"spec": template}}}
    pod = {"kind": "Pod", "metadata": {"name": "store-6958c5bdd8-69gtn", "namespace": "shop"},
           "spec": template}
    action = Action(type="set_resources", target="shop/deployment/store",
                    params={"container": "main", "limits": {"memory": "1Gi"}})
    assert "database" in rules(action, RuleContext(objects=[dep]))
    assert "database" in rules(action, RuleContext(objects=[pod]))
    web = {**pod, "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}
    assert rules(action, RuleContext(objects=[web])) == set()


def test_bystander_not_named_by_hypothesis_is_refused() -> None:
    ctx = RuleContext(named={("shop", "checkout"), ("", "w9")})
    assert rules(Action(type="rollout_restart", target="shop/deployment/checkout"), ctx) == set()
    assert rules(Action(type="delete_pod", target="shop/pod/checkout-5d-abc"), ctx) == set()
    assert "bystander" in rules(Action(type="rollout_restart", target="shop/deployment/cart"),
                                ctx)
    assert rules(Action(type="cordon_node", target="/node/w9"), ctx) == set()
    assert "bystander" in rules(Action(type="cordon_node", target="/node/w1"), ctx)


def test_an_hpa_counts_as_named_through_the_workload_it_scales() -> None:
    hpa = {"kind": "HorizontalPodAutoscaler", "metadata": {"namespace": "shop", "name": "web-hpa"},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}}}
    action = Action(type="set_hpa", target="shop/horizontalpodautoscaler/web-hpa",
                    params={"max_replicas": 9})
    assert rules(action, RuleContext(objects=[hpa], named={("shop", "web")})) == set()
    assert "bystander" in rules(action, RuleContext(objects=[hpa], named={("shop", "api")}))


def _hyp(ns: str, svc: str, conf: float, fault: str = "cpu_saturation") -> Hypothesis:
    return Hypothesis(namespace=ns, service=svc, fault=fault, confidence=conf)  # type: ignore[arg-type]


# gateway -> frontend -> checkout -> pricing; frontend -> cart
GRAPH = [("gateway", "frontend"), ("frontend", "checkout"), ("checkout", "pricing"),
         ("frontend", "cart")]


def ranked(*hyps: Hypothesis, objects: list[dict[str, Any]] | None = None) -> RuleContext:
    return RuleContext(objects=objects or [], ranked=list(hyps), topology=GRAPH)


def test_a_mutating_action_on_a_service_whose_callee_is_the_top_root_cause_is_refused() -> None:
    ctx = ranked(_hyp("shop", "checkout", 0.9), _hyp("web", "frontend", 0.85))
    hpa = {"kind": "HorizontalPodAutoscaler", "metadata": {"namespace": "web", "name": "fe"},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "frontend"}}}
    for action in (
        Action(type="scale", target="web/deployment/frontend", params={"replicas": 6}),
        Action(type="rollout_restart", target="edge/deployment/gateway"),  # two hops up
        Action(type="delete_pod", target="web/pod/frontend-5d8f-abcde"),
        Action(type="set_hpa", target="web/horizontalpodautoscaler/fe",
               params={"max_replicas": 9}),
    ):
        violations = check_action(action, ranked(*ctx.ranked or [], objects=[hpa]))
        assert [v.rule for v in violations] == ["caller_for_callee"], action
        assert "calls shop/checkout, the top-ranked root cause" in violations[0].message


def test_the_top_ranked_root_cause_itself_may_be_changed() -> None:
    ctx = ranked(_hyp("shop", "checkout", 0.9), _hyp("web", "frontend", 0.85))
    assert rules(Action(type="scale", target="shop/deployment/checkout",
                        params={"replicas": 6}), ctx) == set()
    assert rules(Action(type="delete_pod", target="shop/pod/checkout-5d8f-abcde"), ctx) == set()
    node_ctx = ranked(_hyp("", "w2", 0.95, "node_failure"))
    assert rules(Action(type="cordon_node", target="/node/w2"), node_ctx) == set()


def test_only_the_top_ranked_root_cause_may_be_changed() -> None:
    ctx = ranked(_hyp("shop", "checkout", 0.9), _hyp("shop", "cart", 0.88),
                 _hyp("shop", "pricing", 0.5))
    for target in ("shop/deployment/cart",  # the runner-up, not a caller of checkout
                   "shop/deployment/pricing",  # a callee of the top root cause
                   "web/deployment/checkout"):  # the same name in another namespace
        violations = check_action(Action(type="rollout_restart", target=target), ctx)
        assert [v.rule for v in violations] == ["not_top_cause"], target
        assert "is not the top-ranked root cause shop/checkout" in violations[0].message
    assert "not_top_cause" in rules(Action(type="cordon_node", target="/node/w1"), ctx)


def test_a_change_needs_a_confident_localisation() -> None:
    action = Action(type="rollout_restart", target="shop/deployment/checkout")
    unsure = check_action(action, ranked(_hyp("shop", "checkout", LOCALISATION_MIN_CONFIDENCE
                                              - 0.01)))
    assert [v.rule for v in unsure] == ["unsure_localisation"]
    assert "confidence 0.59, under 0.6" in unsure[0].message
    assert check_action(action, ranked(_hyp("shop", "checkout",
                                            LOCALISATION_MIN_CONFIDENCE))) == []
    assert rules(action, ranked()) == {"no_root_cause"}


def test_handing_over_is_never_refused_and_executors_skip_the_check() -> None:
    for action in (Action(type="escalate", params={"reason": "x"}),
                   Action(type="no_action", params={"reason": "healthy"})):
        assert rules(action, ranked()) == set()
        assert rules(action, ranked(_hyp("shop", "checkout", 0.1))) == set()
    # without ranked hypotheses (an executor re-checking an approved action) there is no check
    scale = Action(type="scale", target="web/deployment/frontend", params={"replicas": 6})
    assert rules(scale, RuleContext(topology=GRAPH)) == set()
