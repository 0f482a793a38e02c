from __future__ import annotations

from typing import Any

from warroom.agents.models import Action
from warroom.execute.shadow import ShadowExecutor


def _deployment(revision: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": "shop", "uid": "dep-1",
                     "annotations": {"deployment.kubernetes.io/revision": str(revision)}},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "checkout"}]}}},
    }


def _replicaset(revision: int, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"checkout-{revision}", "namespace": "shop",
                     "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                     "ownerReferences": [{"kind": "Deployment", "name": "checkout",
                                          "uid": "dep-1"}]},
        "spec": {"template": {"metadata": {"labels": {"app": "checkout"}},
                              "spec": {"containers": [{"name": "checkout", "image": image}]}}},
    }


OBJECTS = [
    _deployment(2), _replicaset(1, "checkout:1.42"), _replicaset(2, "checkout:1.43"),
    {"kind": "Deployment", "metadata": {"name": "other", "namespace": "payments"}},
]


async def test_records_the_exact_call_and_changes_nothing() -> None:
    executor = ShadowExecutor(OBJECTS)
    before = [dict(o) for o in OBJECTS]
    action = Action(type="scale", target="shop/deployment/checkout", params={"replicas": 5})
    outcome = await executor.execute(action)
    assert outcome.status == "recorded"
    assert outcome.result == {"shadow": True, "changed": False, "calls": 1}
    [call] = outcome.calls
    assert (call.method, call.path) == (
        "PATCH", "/apis/apps/v1/namespaces/shop/deployments/checkout/scale"
    )
    assert call.body == {"spec": {"replicas": 5}}
    assert "kubectl" in call.kubectl and "--replicas=5" in call.kubectl
    assert OBJECTS == before


async def test_renders_an_undo_from_the_evidence_objects_in_scope() -> None:
    executor = ShadowExecutor(OBJECTS)
    action = Action(type="rollout_undo", target="shop/deployment/checkout")
    state = await executor.capture_state(action)
    assert {o["metadata"]["namespace"] for o in state["objects"]} == {"shop"}
    outcome = await executor.execute(action)
    assert outcome.status == "recorded"
    assert "checkout:1.42" in str(outcome.calls[0].body)


async def test_an_action_that_cannot_be_rendered_fails_with_the_reason() -> None:
    outcome = await ShadowExecutor([]).execute(
        Action(type="scale", target="shop/secret/token", params={"replicas": 2})
    )
    assert outcome.status == "failed" and outcome.error and "secret" in outcome.error.lower()
