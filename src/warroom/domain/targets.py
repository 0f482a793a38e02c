"""Targets of catalogue actions: `namespace/kind/name` parsed, and the API paths of kinds."""

from __future__ import annotations

from dataclasses import dataclass

# the annotations a rollout writes and reads (the sensors read them too, through `kube.objects`)
REVISION = "deployment.kubernetes.io/revision"
# the revisions a re-adopted ReplicaSet had before (a rollback renumbers it)
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"

# kind (as targets spell it, with the usual kubectl aliases) -> (canonical kind, API prefix, plural)
KINDS: dict[str, tuple[str, str, str]] = {
    "deployment": ("deployment", "/apis/apps/v1", "deployments"),
    "statefulset": ("statefulset", "/apis/apps/v1", "statefulsets"),
    "daemonset": ("daemonset", "/apis/apps/v1", "daemonsets"),
    "replicaset": ("replicaset", "/apis/apps/v1", "replicasets"),
    "pod": ("pod", "/api/v1", "pods"),
    "node": ("node", "/api/v1", "nodes"),
    "horizontalpodautoscaler": (
        "horizontalpodautoscaler", "/apis/autoscaling/v2", "horizontalpodautoscalers"
    ),
}
ALIASES = {
    "deploy": "deployment", "deployments": "deployment", "sts": "statefulset",
    "statefulsets": "statefulset", "ds": "daemonset", "daemonsets": "daemonset", "po": "pod",
    "pods": "pod", "no": "node", "nodes": "node", "hpa": "horizontalpodautoscaler",
    "horizontalpodautoscalers": "horizontalpodautoscaler", "rs": "replicaset",
}
WORKLOADS = ("deployment", "statefulset", "daemonset")


class RenderError(ValueError):
    """The action cannot be turned into API calls (bad target, bad params, missing state)."""


@dataclass(frozen=True)
class Target:
    """A parsed `namespace/kind/name` target."""

    namespace: str
    kind: str
    name: str

    @property
    def path(self) -> str:
        """Return the object's API path."""
        return object_path(self.kind, self.name, self.namespace)

    @property
    def ref(self) -> str:
        """Return the kubectl `kind/name` reference."""
        return f"{self.kind}/{self.name}"


def object_path(kind: str, name: str, namespace: str = "") -> str:
    """Return the API path of one object of a known kind."""
    canonical, prefix, plural = KINDS[kind]
    if canonical == "node":
        return f"{prefix}/nodes/{name}"
    return f"{prefix}/namespaces/{namespace}/{plural}/{name}"


def collection_path(kind: str, namespace: str = "") -> str:
    """Return the API path of the list of a kind, in a namespace or cluster-wide."""
    _, prefix, plural = KINDS[kind]
    if namespace and kind != "node":
        return f"{prefix}/namespaces/{namespace}/{plural}"
    return f"{prefix}/{plural}"


def parse_target(target: str | None, *, allowed: tuple[str, ...]) -> Target:
    """Parse `namespace/kind/name` (nodes: `/node/NAME`) and check the kind is allowed."""
    if not target:
        raise RenderError(f"the action needs a target of kind {' or '.join(allowed)}")
    parts = target.split("/")
    if len(parts) != 3 or not parts[2]:
        raise RenderError(f"target {target!r} is not namespace/kind/name")
    namespace, raw_kind, name = parts
    kind = ALIASES.get(raw_kind.lower(), raw_kind.lower())
    if kind not in allowed:
        raise RenderError(f"target {target!r}: kind {raw_kind!r} is not one of {list(allowed)}")
    if kind == "node":
        namespace = ""
    elif not namespace:
        raise RenderError(f"target {target!r} has no namespace")
    return Target(namespace, kind, name)


def ns_flag(target: Target) -> str:
    """Return kubectl's `-n NAMESPACE ` for the target (nothing for nodes)."""
    return f"-n {target.namespace} " if target.namespace else ""
