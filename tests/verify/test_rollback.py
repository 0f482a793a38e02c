from __future__ import annotations

from warroom.agents.models import Action
from warroom.verify.rollback import rollback_action

DEPLOYMENT = {"kind": "Deployment", "metadata": {
    "name": "checkout", "namespace": "shop",
    "annotations": {"deployment.kubernetes.io/revision": "7"}}, "spec": {"replicas": 3}}


def test_scale_rolls_back_to_the_previous_replica_count() -> None:
    action = Action(type="scale", target="shop/deployment/checkout", params={"replicas": 9})
    assert rollback_action(action, {"objects": [DEPLOYMENT]}) == Action(
        type="scale", target="shop/deployment/checkout", params={"replicas": 3})


def test_a_rollout_rolls_back_to_the_revision_before_it() -> None:
    action = Action(type="set_resources", target="shop/deployment/checkout",
                    params={"limits": {"memory": "1Gi"}})
    assert rollback_action(action, {"objects": [DEPLOYMENT]}) == Action(
        type="rollout_undo", target="shop/deployment/checkout", params={"to_revision": 7})


def test_without_a_known_inverse_a_human_is_asked() -> None:
    action = Action(type="cordon_node", target="/node/n1")
    inverse = rollback_action(action, None)
    assert inverse.type == "escalate" and "cordon_node" in inverse.params["reason"]
