"""The subset of the Kubernetes REST API that warroom uses, answered from the sandbox.

`handle` is transport-free (method, path, query, body in; status and JSON out), so the HTTP
server is a thin shell around it. Errors are Kubernetes `Status` objects with the API
server's reasons and messages; `dryRun=All` is honoured by every write.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from warroom.sandbox.model import KINDS, PLURALS, Obj, PatchError, json_patch, merge_patch
from warroom.sandbox.model import strategic_merge_patch as smp
from warroom.sandbox.sim import Sandbox

Answer = tuple[int, Any]
_GROUPS = {"v1": "", "apps/v1": "apps", "autoscaling/v2": "autoscaling"}
_PATCHABLE = {"Deployment", "StatefulSet", "Node", "HorizontalPodAutoscaler"}
_ROUTE = re.compile(
    r"^/(?:api/v1|apis/(?P<group>apps|autoscaling)/(?P<version>v1|v2))"
    r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[a-z]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>[a-z]+))?$"
)


def status(code: int, reason: str, message: str, *, name: str = "", kind: str = "",
           group: str = "") -> Answer:
    """Return a Kubernetes `Status` failure."""
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "details": details, "code": code}


def _not_found(kind: str, name: str) -> Answer:
    api_version, plural, _ = KINDS[kind]
    group = _GROUPS[api_version]
    resource = f"{plural}.{group}" if group else plural
    return status(404, "NotFound", f'{resource} "{name}" not found', name=name, kind=plural,
                  group=group)


def _list(kind: str, items: list[Obj], version: str) -> Obj:
    return {"kind": f"{kind}List", "apiVersion": KINDS[kind][0],
            "metadata": {"resourceVersion": version}, "items": items}


def _selected(obj: Obj, label_selector: str, field_selector: str) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for term in filter(None, label_selector.split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.strip() not in labels:
            return False
    for term in filter(None, field_selector.split(",")):
        key, value = term.replace("==", "=").split("=", 1)
        negate = key.endswith("!")
        key = key.rstrip("!")
        actual: Any = obj
        for part in key.split("."):
            actual = actual.get(part, "") if isinstance(actual, dict) else ""
        if (str(actual) == value) == negate:
            return False
    return True


def handle(sandbox: Sandbox, method: str, path: str, query: dict[str, str],
           body: bytes | None, content_type: str) -> Answer:
    """Answer one Kubernetes API request."""
    if path in ("/version", "/version/"):
        return 200, {"major": "1", "minor": "30", "gitVersion": "v1.30.4-warroom-sandbox",
                     "platform": "linux/amd64"}
    match = _ROUTE.match(path.rstrip("/"))
    if not match or match["plural"] not in PLURALS:
        return status(404, "NotFound", f"the server could not find the requested resource "
                      f"({method} {path})")
    kind = PLURALS[match["plural"]]
    api_version, _, namespaced = KINDS[kind]
    expected = {"": "v1", "apps": "apps/v1", "autoscaling": "autoscaling/v2"}[match["group"] or ""]
    if api_version != expected:
        return status(404, "NotFound", f"the server could not find the requested resource "
                      f"({method} {path})")
    namespace, name, sub = match["ns"] or "", match["name"], match["sub"]
    if kind == "Namespace" and name and not namespace:
        namespace, name = "", name
    dry_run = query.get("dryRun") == "All"
    if query.get("dryRun") not in (None, "", "All"):
        return status(400, "BadRequest", f"invalid dry run option {query['dryRun']!r}; "
                      "only All is valid")
    if name is None:
        if method != "GET":
            return status(405, "MethodNotAllowed", f"{method} is not allowed on {path}")
        items = sandbox.store.list(kind, namespace if namespaced and namespace else None)
        items = [o for o in items if _selected(o, query.get("labelSelector", ""),
                                               query.get("fieldSelector", ""))]
        return 200, _list(kind, items, sandbox.store.next_version())
    obj = sandbox.store.get(kind, name, namespace)
    if obj is None:
        return _not_found(kind, name)
    if sub == "log" and kind == "Pod" and method == "GET":
        return _logs(sandbox, obj, query)
    if sub == "eviction" and kind == "Pod" and method == "POST":
        return _evict(sandbox, obj, body, dry_run)
    if sub == "scale" and kind in ("Deployment", "StatefulSet"):
        if method == "GET":
            return 200, _scale(obj)
        if method in ("PATCH", "PUT"):
            return _patch(sandbox, obj, body, content_type, dry_run, scale=True,
                          put=method == "PUT")
    if sub is not None:
        return status(404, "NotFound", f"the server could not find the requested resource "
                      f"({method} {path})")
    if method == "GET":
        return 200, obj
    if method == "PATCH" and kind in _PATCHABLE:
        return _patch(sandbox, obj, body, content_type, dry_run)
    if method == "DELETE" and kind == "Pod":
        if dry_run:
            return 200, obj
        sandbox.delete_pod(namespace, name)
        return 200, obj
    return status(405, "MethodNotAllowed", f"{method} on {kind} is not supported by the sandbox")


def _scale(obj: Obj) -> Obj:
    meta = obj["metadata"]
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                         "uid": meta["uid"], "resourceVersion": meta["resourceVersion"],
                         "creationTimestamp": meta["creationTimestamp"]},
            "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {"replicas": obj.get("status", {}).get("replicas", 0),
                       "selector": ",".join(f"{k}={v}" for k, v in
                                            obj["spec"]["selector"]["matchLabels"].items())}}


def _decode(body: bytes | None) -> Any:
    if not body:
        raise PatchError("the patch body is empty")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise PatchError(f"the patch body is not JSON: {exc}") from exc


def _patch(sandbox: Sandbox, obj: Obj, body: bytes | None, content_type: str, dry_run: bool,
           *, scale: bool = False, put: bool = False) -> Answer:
    kind, meta = obj["kind"], obj["metadata"]
    media = content_type.split(";")[0].strip()
    try:
        patch = _decode(body)
        base = _scale(obj) if scale else obj
        if put:
            patched = patch
        elif media == "application/json-patch+json":
            if not isinstance(patch, list):
                raise PatchError("a JSON patch must be a list of operations")
            patched = json_patch(base, patch)
        elif media == "application/merge-patch+json":
            patched = merge_patch(base, patch)
        elif media == "application/strategic-merge-patch+json":
            if scale:
                patched = merge_patch(base, patch)
            else:
                patched = smp(base, patch)
        else:
            return status(415, "UnsupportedMediaType", f"the body of the request was in an "
                          f"unknown format - accepted media types include: "
                          f"application/json-patch+json, application/merge-patch+json, "
                          f"application/strategic-merge-patch+json (got {media!r})")
    except (PatchError, KeyError, IndexError, ValueError, TypeError) as exc:
        return status(422, "Invalid", f"{kind} \"{meta['name']}\" is invalid: {exc}",
                      name=meta["name"], kind=KINDS[kind][1])
    wanted_rv = (patched.get("metadata") or {}).get("resourceVersion") \
        if isinstance(patched, dict) else None
    sent_rv = (patch.get("metadata") or {}).get("resourceVersion") if isinstance(patch, dict) \
        else wanted_rv if put else None
    if sent_rv and sent_rv != meta["resourceVersion"]:
        group = _GROUPS[KINDS[kind][0]]
        resource = f"{KINDS[kind][1]}.{group}" if group else KINDS[kind][1]
        return status(409, "Conflict", f'Operation cannot be fulfilled on {resource} '
                      f'"{meta["name"]}": the object has been modified; please apply your '
                      f"changes to the latest version and try again", name=meta["name"],
                      kind=KINDS[kind][1], group=group)
    if scale:
        replicas = (patched.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            return status(422, "Invalid", f'Scale.autoscaling "{meta["name"]}" is invalid: '
                          f"spec.replicas: Invalid value: {replicas!r}: must be greater than "
                          "or equal to 0", name=meta["name"], kind="scale")
        updated = copy.deepcopy(obj)
        updated["spec"]["replicas"] = replicas
        if dry_run:
            return 200, {**_scale(updated)}
        return 200, _scale(sandbox.replace(updated))
    problem = _invalid(obj, patched)
    if problem:
        return status(422, "Invalid", f"{kind}.{_GROUPS[KINDS[kind][0]] or 'core'} "
                      f"\"{meta['name']}\" is invalid: {problem}", name=meta["name"],
                      kind=KINDS[kind][1])
    patched["metadata"]["resourceVersion"] = meta["resourceVersion"]
    if dry_run:
        return 200, patched
    return 200, sandbox.replace(patched)


def _invalid(before: Obj, after: Obj) -> str:
    for field in ("name", "namespace", "uid"):
        if after.get("metadata", {}).get(field) != before["metadata"].get(field):
            return f"metadata.{field}: Invalid value: field is immutable"
    if after.get("kind") != before["kind"]:
        return "kind: Invalid value: field is immutable"
    if before["kind"] in ("Deployment", "StatefulSet"):
        containers = after.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
        if not containers or any(not c.get("image") for c in containers):
            return "spec.template.spec.containers: Required value"
        labels = after["spec"].get("template", {}).get("metadata", {}).get("labels", {})
        if any(labels.get(k) != v for k, v in after["spec"]["selector"]["matchLabels"].items()):
            return ("spec.template.metadata.labels: Invalid value: `selector` does not match "
                    "template `labels`")
    if before["kind"] == "HorizontalPodAutoscaler":
        spec = after.get("spec", {})
        if spec.get("minReplicas", 1) > spec.get("maxReplicas", 0):
            return "spec.maxReplicas: Invalid value: must be greater than or equal to minReplicas"
    return ""


def _logs(sandbox: Sandbox, pod: Obj, query: dict[str, str]) -> Answer:
    meta = pod["metadata"]
    container = query.get("container") or pod["spec"]["containers"][0]["name"]
    if container not in [c["name"] for c in pod["spec"]["containers"]]:
        return status(400, "BadRequest", f"container {container} is not valid for pod "
                      f"{meta['name']}")
    previous = query.get("previous", "").lower() == "true"
    lines = sandbox.pod_logs(meta["namespace"], meta["name"], previous=previous) or []
    state = sandbox.kubelet.container(pod)
    if previous and (state is None or state.last_terminated is None):
        return status(400, "BadRequest", f'previous terminated container "{container}" in pod '
                      f'"{meta["name"]}" not found')
    if not previous and (state is None or state.started is None) and not lines:
        waiting = (pod.get("status", {}).get("containerStatuses") or [{}])[0].get(
            "state", {}).get("waiting", {}).get("reason", "ContainerCreating")
        return status(400, "BadRequest", f'container "{container}" in pod "{meta["name"]}" is '
                      f"waiting to start: {waiting}")
    tail = query.get("tailLines")
    if tail and tail.isdigit():
        lines = lines[-int(tail):] if int(tail) else []
    return 200, "".join(line + "\n" for line in lines)


def _evict(sandbox: Sandbox, pod: Obj, body: bytes | None, dry_run: bool) -> Answer:
    meta = pod["metadata"]
    try:
        eviction = json.loads(body or b"{}")
    except ValueError:
        return status(400, "BadRequest", "the eviction body is not JSON")
    if eviction.get("kind") != "Eviction" or (eviction.get("metadata") or {}).get(
            "name") != meta["name"]:
        return status(400, "BadRequest", f"name in URL does not match name in Eviction "
                      f"object ({meta['name']})")
    if not dry_run:
        sandbox.delete_pod(meta["namespace"], meta["name"], reason="evicted")
        sandbox.events.record(pod, "Evicted", "Evicted by the eviction API", sandbox.now,
                              component="kubelet")
    return 201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                 "code": 201}
