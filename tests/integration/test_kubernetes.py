"""The Kubernetes manifests (deploy/kubernetes) and the image definition, checked offline.

kubernetes-validate carries the API schemas, so this needs no cluster. Kustomize itself is not
installed here: the kustomizations are checked for what kustomize would refuse (a resource
missing) or silently skip (a manifest not listed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from warroom.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "kubernetes"
KUSTOMIZATIONS = [K8S, K8S / "trial"]


def manifests() -> list[Path]:
    return sorted(p for d in KUSTOMIZATIONS for p in d.glob("*.yaml")
                  if p.name != "kustomization.yaml")


def resources(kind: str | None = None) -> list[dict[str, Any]]:
    docs = [d for p in manifests() for d in yaml.safe_load_all(p.read_text()) if d]
    return [d for d in docs if kind is None or d["kind"] == kind]


def deployment(name: str) -> dict[str, Any]:
    [found] = [d for d in resources("Deployment") if d["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("path", manifests(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_validates_strictly_against_the_api_schemas(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_the_validator_names_a_broken_field() -> None:
    broken = deployment("warroom-api") | {}
    broken = {**broken, "spec": {**broken["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError, match="replicas"):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=lambda p: p.name)
def test_each_kustomization_lists_exactly_its_manifests(folder: Path) -> None:
    listed = yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]
    for entry in listed:
        assert (folder / entry).exists(), f"{folder.name}: {entry} does not exist"
    files = {p.name for p in folder.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert files == {e for e in listed if e.endswith(".yaml")}


def test_api_and_worker_run_one_image_unprivileged_on_a_read_only_root() -> None:
    api, worker = deployment("warroom-api"), deployment("warroom-worker")
    [api_c] = api["spec"]["template"]["spec"]["containers"]
    [worker_c] = worker["spec"]["template"]["spec"]["containers"]
    assert api_c["image"] == worker_c["image"] == "warroom"
    assert api_c["args"] == ["serve", "--no-worker"] and worker_c["args"] == ["worker"]
    for pod, container in ((api, api_c), (worker, worker_c)):
        spec = pod["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        ctx = container["securityContext"]
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"]["drop"] == ["ALL"]
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/var/lib/warroom", "/tmp"} <= mounts  # the only places warroom writes
        pod_name = next(e for e in container["env"] if e["name"] == "WARROOM_POD_NAME")
        assert pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    for probe in ("readinessProbe", "livenessProbe"):
        assert api_c[probe]["httpGet"]["path"] == "/healthz"
    # the API never calls the Kubernetes API: no token in its pods
    assert api["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_configuration_names_only_real_settings() -> None:
    fields = {f"WARROOM_{name.upper()}" for name in Settings.model_fields}
    for kind in ("ConfigMap", "Secret"):
        for doc in resources(kind):
            if doc["metadata"]["name"] != "warroom":
                continue
            keys = set(doc.get("data") or {}) | set(doc.get("stringData") or {})
            assert keys and keys <= fields, keys - fields


def test_the_cluster_rbac_is_the_documented_least_privilege_one() -> None:
    assert (K8S / "rbac.yaml").read_text() == (DEPLOY / "rbac.yaml").read_text()


def test_every_workload_has_a_disruption_budget_and_network_policy() -> None:
    selected = [p["spec"]["selector"]["matchLabels"] for p in resources("PodDisruptionBudget")]
    policies = [p["spec"]["podSelector"].get("matchLabels", {})
                for p in resources("NetworkPolicy")]
    for name in ("warroom-api", "warroom-worker"):
        labels = deployment(name)["spec"]["template"]["metadata"]["labels"]
        assert any(s.items() <= labels.items() for s in selected), name
        assert any(s.items() <= labels.items() for s in policies), name


def test_the_image_runs_as_an_unprivileged_user_with_the_warroom_entrypoint() -> None:
    lines = [line.split() for line in (DEPLOY / "Containerfile").read_text().splitlines()
             if line and not line.startswith("#")]
    users = [words[1] for words in lines if words and words[0] == "USER"]
    assert users and not users[-1].startswith(("0", "root"))
    assert ["ENTRYPOINT", '["warroom"]'] in lines
