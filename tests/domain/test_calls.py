from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from warroom.agents.models import ACTION_TYPES, Action
from warroom.domain.call_state import state_requests
from warroom.domain.calls import kubectl_command, render_calls
from warroom.domain.targets import RenderError

NOW = datetime(2026, 4, 18, 10, 46, tzinfo=UTC)
DEPLOY = "/apis/apps/v1/namespaces/shop/deployments/checkout"


def _rs(revision: int, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": f"checkout-{revision}abc", "namespace": "shop",
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [{"kind": "Deployment", "name": "checkout"}],
        },
        "spec": {"template": {
            "metadata": {"labels": {"app": "checkout", "pod-template-hash": f"{revision}abc"}},
            "spec": {"containers": [{"name": "checkout", "image": image}]},
        }},
    }


def _state() -> dict[str, Any]:
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": "shop",
                     "annotations": {"deployment.kubernetes.io/revision": "3"}},
        "spec": {"template": {"spec": {"containers": [{"name": "checkout"}]}}},
    }
    return {"objects": [deployment, _rs(1, "checkout:1.41"), _rs(3, "checkout:1.43"),
                        _rs(2, "checkout:1.42")]}


def test_rollout_restart_patches_the_restarted_at_annotation() -> None:
    action = Action(type="rollout_restart", target="shop/deployment/checkout")
    [call] = render_calls(action, now=NOW)
    assert (call.method, call.path) == ("PATCH", DEPLOY)
    assert call.content_type == "application/strategic-merge-patch+json"
    annotations = call.body["spec"]["template"]["metadata"]["annotations"]  # type: ignore[index]
    assert annotations == {"kubectl.kubernetes.io/restartedAt": "2026-04-18T10:46:00Z"}
    assert call.kubectl == "kubectl -n shop rollout restart deployment/checkout"


def test_rollout_restart_of_a_statefulset_uses_its_path() -> None:
    [call] = render_calls(Action(type="rollout_restart", target="shop/sts/db"), now=NOW)
    assert call.path == "/apis/apps/v1/namespaces/shop/statefulsets/db"
    assert call.kubectl == "kubectl -n shop rollout restart statefulset/db"


def test_rollout_undo_replaces_the_template_with_the_previous_revision() -> None:
    [call] = render_calls(Action(type="rollout_undo", target="shop/deployment/checkout"),
                          state=_state())
    assert call.content_type == "application/json-patch+json"
    [op] = call.body  # type: ignore[misc]
    assert op["op"] == "replace" and op["path"] == "/spec/template"
    assert op["value"]["spec"]["containers"][0]["image"] == "checkout:1.42"
    assert "pod-template-hash" not in op["value"]["metadata"]["labels"]
    assert call.kubectl == "kubectl -n shop rollout undo deployment/checkout"


def test_rollout_undo_to_a_named_revision() -> None:
    action = Action(type="rollout_undo", target="shop/deployment/checkout",
                    params={"to_revision": 1})
    [call] = render_calls(action, state=_state())
    assert call.body[0]["value"]["spec"]["containers"][0]["image"] == "checkout:1.41"  # type: ignore[index]
    assert call.kubectl.endswith("--to-revision=1")


def test_rollout_undo_without_state_or_history_is_a_clear_error() -> None:
    action = Action(type="rollout_undo", target="shop/deployment/checkout")
    with pytest.raises(RenderError, match="ReplicaSets"):
        render_calls(action)
    with pytest.raises(RenderError, match="no revision 9"):
        render_calls(action.model_copy(update={"params": {"to_revision": 9}}), state=_state())
    # the kubectl line is still known without state
    assert kubectl_command(action) == "kubectl -n shop rollout undo deployment/checkout"


def test_scale_patches_the_scale_subresource() -> None:
    [call] = render_calls(Action(type="scale", target="shop/deployment/checkout",
                                 params={"replicas": 5}))
    assert (call.method, call.path) == ("PATCH", DEPLOY + "/scale")
    assert call.body == {"spec": {"replicas": 5}}
    assert call.kubectl == "kubectl -n shop scale deployment/checkout --replicas=5"
    with pytest.raises(RenderError, match="replicas"):
        render_calls(Action(type="scale", target="shop/deployment/checkout",
                            params={"replicas": "many"}))


def test_set_resources_merges_the_container_resources() -> None:
    action = Action(type="set_resources", target="shop/deployment/checkout",
                    params={"limits": {"memory": "768Mi"}})
    [call] = render_calls(action, state=_state())
    containers = call.body["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
    assert containers == [{"name": "checkout", "resources": {"limits": {"memory": "768Mi"}}}]
    assert call.kubectl == (
        "kubectl -n shop set resources deployment/checkout -c checkout --limits=memory=768Mi"
    )
    with pytest.raises(RenderError, match="limits or params.requests"):
        render_calls(Action(type="set_resources", target="shop/deployment/checkout"))


def test_delete_pod_and_cordon() -> None:
    [delete] = render_calls(Action(type="delete_pod", target="shop/pod/checkout-1"))
    assert (delete.method, delete.path) == ("DELETE", "/api/v1/namespaces/shop/pods/checkout-1")
    [cordon] = render_calls(Action(type="cordon_node", target="/node/node-2"))
    assert (cordon.method, cordon.path) == ("PATCH", "/api/v1/nodes/node-2")
    assert cordon.body == {"spec": {"unschedulable": True}}
    assert cordon.kubectl == "kubectl cordon node-2"


def _pod(name: str, node: str, owner: str = "ReplicaSet") -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "shop",
                                        "ownerReferences": [{"kind": owner, "name": "x"}]},
            "spec": {"nodeName": node}, "status": {"phase": "Running"}}


def test_drain_cordons_then_evicts_every_non_daemonset_pod_on_the_node() -> None:
    state = {"objects": [_pod("a", "node-2"), _pod("agent", "node-2", "DaemonSet"),
                         _pod("b", "node-1"), _pod("c", "node-2", "StatefulSet")]}
    calls = render_calls(Action(type="drain_node", target="/node/node-2"), state=state)
    assert [c.method for c in calls] == ["PATCH", "POST", "POST"]
    assert [c.path for c in calls[1:]] == ["/api/v1/namespaces/shop/pods/a/eviction",
                                          "/api/v1/namespaces/shop/pods/c/eviction"]
    assert calls[1].body == {"apiVersion": "policy/v1", "kind": "Eviction",
                             "metadata": {"name": "a", "namespace": "shop"}}
    with pytest.raises(RenderError, match="node's pods"):
        render_calls(Action(type="drain_node", target="/node/node-2"))


def test_set_hpa_finds_the_hpa_of_a_deployment() -> None:
    hpa = {"kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "checkout-hpa", "namespace": "shop"},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "checkout"}}}
    action = Action(type="set_hpa", target="shop/deployment/checkout",
                    params={"max_replicas": 12, "target_cpu_utilization": 60})
    [call] = render_calls(action, state={"objects": [hpa]})
    assert call.path == "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/checkout-hpa"
    assert call.content_type == "application/merge-patch+json"
    assert call.body["spec"]["maxReplicas"] == 12  # type: ignore[index]
    metric = call.body["spec"]["metrics"][0]  # type: ignore[index]
    assert metric["resource"]["target"]["averageUtilization"] == 60
    assert call.kubectl.startswith("kubectl -n shop patch hpa checkout-hpa --type=merge -p ")
    with pytest.raises(RenderError, match="above"):
        render_calls(Action(type="set_hpa", target="shop/hpa/x",
                            params={"min_replicas": 5, "max_replicas": 2}))


@pytest.mark.parametrize("kind", ["escalate", "no_action"])
def test_escalate_and_no_action_make_no_calls(kind: str) -> None:
    assert render_calls(Action(type=kind, params={"reason": "x"})) == []  # type: ignore[arg-type]
    assert state_requests(Action(type=kind)) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("target", [None, "checkout", "shop/configmap/x", "/deployment/checkout"])
def test_bad_targets_are_named(target: str | None) -> None:
    with pytest.raises(RenderError):
        render_calls(Action(type="rollout_restart", target=target))


def test_every_catalogue_action_renders() -> None:
    params: dict[str, dict[str, Any]] = {
        "scale": {"replicas": 3}, "set_resources": {"limits": {"cpu": "1"}},
        "set_hpa": {"max_replicas": 4},
    }
    targets = {"delete_pod": "shop/pod/p", "cordon_node": "/node/n", "drain_node": "/node/n"}
    for kind in ACTION_TYPES:
        action = Action(type=kind, target=targets.get(kind, "shop/deployment/checkout"),  # type: ignore[arg-type]
                        params=params.get(kind, {}))
        calls = render_calls(action, state=_state(), now=NOW)
        assert (calls == []) == (kind in ("escalate", "no_action"))
        assert all(c.kubectl for c in calls)


def test_state_requests_read_what_the_action_touches() -> None:
    paths = [c.path for c in state_requests(Action(type="rollout_undo",
                                                   target="shop/deployment/checkout"))]
    assert paths == [DEPLOY, "/apis/apps/v1/namespaces/shop/replicasets"]
    drain = state_requests(Action(type="drain_node", target="/node/n"))
    assert drain[1].path == "/api/v1/pods?fieldSelector=spec.nodeName%3Dn"


def test_a_known_resource_version_becomes_a_precondition() -> None:
    state = _state()
    state["objects"][0]["metadata"]["resourceVersion"] = "4242"
    for action in (Action(type="rollout_restart", target="shop/deployment/checkout"),
                   Action(type="scale", target="shop/deployment/checkout",
                          params={"replicas": 3}),
                   Action(type="set_resources", target="shop/deployment/checkout",
                          params={"limits": {"cpu": "1"}})):
        [call] = render_calls(action, state=state, now=NOW)
        assert call.body["metadata"] == {"resourceVersion": "4242"}  # type: ignore[index]
    [plain] = render_calls(Action(type="scale", target="shop/deployment/checkout",
                                  params={"replicas": 3}))
    assert plain.body == {"spec": {"replicas": 3}}
