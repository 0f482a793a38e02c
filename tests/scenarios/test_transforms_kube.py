"""`kube_state` replaces a scenario's Kubernetes objects by the kube-state-metrics series they
give, scraped with `honor_labels` or without it."""

from __future__ import annotations

from datetime import datetime

from transform_kit import by_labels, sample

from warroom.agents.diagnostician.index import finite_samples
from warroom.agents.diagnostician.labels import exporters_labels
from warroom.scenarios.models import Scenario
from warroom.scenarios.transforms import resolve
from warroom.scenarios.transforms_kube import kube_state
from warroom.sensors.models import Series


def subject(s: Series) -> dict[str, str]:
    """The labels as about the subject, whichever way the scrape kept them."""
    return exporters_labels(s.metric)


def newest(s: Series) -> float:
    return finite_samples(s)[-1][1]


def kube_series(sc: Scenario, name: str, **labels: str) -> list[Series]:
    return [s for s in sc.prometheus.series if s.name == name
            and all(subject(s).get(k) == v for k, v in labels.items())]


def test_the_objects_go_and_every_pod_node_and_workload_is_in_the_series() -> None:
    sc = sample("gen-image-pull-error-easy-007")
    out = kube_state(sc)
    assert out.kubernetes.objects == []
    assert out.prometheus.series[:len(sc.prometheus.series)] == sc.prometheus.series
    pods = {o["metadata"]["name"] for o in sc.kubernetes.objects if o["kind"] == "Pod"}
    nodes = {o["metadata"]["name"] for o in sc.kubernetes.objects if o["kind"] == "Node"}
    assert {subject(s)["pod"] for s in kube_series(out, "kube_pod_info")} == pods
    assert {s.metric["node"] for s in kube_series(out, "kube_node_info")} == nodes
    assert kube_series(out, "kube_deployment_metadata_generation", deployment="cart")
    assert out.model_dump(exclude={"prometheus", "kubernetes"}) == \
        sc.model_dump(exclude={"prometheus", "kubernetes"})
    assert "kube_state" in resolve(["kube_state"])


def test_a_pod_that_cannot_pull_its_image_waits_from_its_creation() -> None:
    sc = sample("gen-image-pull-error-easy-007")
    out = kube_state(sc)
    [stuck, *_] = [o for o in sc.kubernetes.objects if o["kind"] == "Pod"
                   and o["status"]["containerStatuses"][0]["state"].get("waiting")]
    name = stuck["metadata"]["name"]
    created = datetime.fromisoformat(stuck["metadata"]["creationTimestamp"]).timestamp()
    [reason] = kube_series(out, "kube_pod_container_status_waiting_reason", pod=name)
    assert subject(reason)["reason"] in ("ErrImagePull", "ImagePullBackOff")
    assert finite_samples(reason)[0][0] >= created and newest(reason) == 1
    [running] = kube_series(out, "kube_pod_container_status_running", pod=name)
    assert newest(running) == 0


def test_restarts_count_up_to_the_last_exit_and_its_code_is_kept() -> None:
    sc = sample("gen-probe-failure-easy-062")
    out = kube_state(sc)
    for o in (o for o in sc.kubernetes.objects if o["kind"] == "Pod"):
        cs = o["status"]["containerStatuses"][0]
        [restarts] = kube_series(out, "kube_pod_container_status_restarts_total",
                                 pod=o["metadata"]["name"])
        values = [v for _, v in finite_samples(restarts)]
        assert values == sorted(values) and values[-1] == cs["restartCount"]
        codes = kube_series(out, "kube_pod_container_status_last_terminated_exitcode",
                            pod=o["metadata"]["name"])
        if cs.get("lastState"):
            assert [newest(s) for s in codes] == [cs["lastState"]["terminated"]["exitCode"]]


def test_a_rollout_bumps_the_generation_when_its_replicaset_was_created() -> None:
    sc = sample("gen-bad-deploy-easy-058")  # users rolled out 15 minutes before `now`
    [gen] = kube_series(kube_state(sc), "kube_deployment_metadata_generation",
                        deployment="users")
    values = finite_samples(gen)
    bumps = [t for (_, a), (t, b) in zip(values, values[1:], strict=False) if b > a]
    assert len(bumps) == 1 and values[-1][1] == 19
    assert sc.now.timestamp() - bumps[0] < 16 * 60


def test_a_node_condition_is_one_gauge_per_status() -> None:
    sc = sample("gen-disk-pressure-medium-031")
    out = kube_state(sc)
    by = by_labels(out.prometheus.series, "kube_node_status_condition")
    pressure = {dict(k)["status"]: list(v.values())[-1] for k, v in by.items()
                if dict(k)["node"] == "ip-10-0-33-223.ec2.internal"
                and dict(k)["condition"] == "DiskPressure"}
    assert pressure == {"true": 1.0, "false": 0.0, "unknown": 0.0}


def test_half_the_scenarios_are_scraped_without_honour_labels() -> None:
    sc = sample("gen-image-pull-error-easy-007")
    ways = set()
    for seed in range(8):
        [info, *_] = kube_series(kube_state(sc, seed), "kube_pod_info")
        ways.add("exported_pod" in info.metric)
        if "exported_pod" in info.metric:  # the scrape's target is the exporter's own pod
            assert info.metric["namespace"] == "monitoring"
            assert info.metric["exported_namespace"] == subject(info)["namespace"] == "web"
    assert ways == {True, False}
