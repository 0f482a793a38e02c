"""`slo_alert` replaces the alerts by an SLO tool's burn-rate alerts."""

from __future__ import annotations

from transform_kit import sample

from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.topology import alert_entities
from warroom.scenarios.models import Scenario
from warroom.scenarios.transforms import resolve
from warroom.scenarios.transforms_slo import slo_alert
from warroom.sensors.models import AlertView, EvidenceSnapshot

_PLACE_KEYS = {"service", "deployment", "statefulset", "daemonset", "pod", "app", "job"}


def _labels(hooks: list) -> list[dict[str, str]]:  # type: ignore[type-arg]
    return [a.labels for h in hooks for a in h.alerts]


def test_every_alert_names_its_service_only_inside_an_slo_tools_values() -> None:
    scenario = sample("gen-bad-deploy-easy-058")
    styles = set()
    for seed in range(8):
        out = slo_alert(scenario, seed)
        assert out.prometheus == scenario.prometheus and out.expected == scenario.expected
        for before, after in zip(_labels(scenario.alerts), _labels(out.alerts), strict=True):
            assert not _PLACE_KEYS & after.keys()
            place = before.get("service") or before["deployment"]
            if "sloth_service" in after:
                styles.add("sloth")
                assert after["sloth_service"] == place
                assert after["sloth_id"].startswith(f"{place}-")
            else:
                styles.add("pyrra")
                assert after["slo"] == f"{place}-availability"
                assert after.get("namespace") == before.get("namespace")
    assert styles == {"sloth", "pyrra"}  # the seed chooses the tool
    assert resolve(["slo_alert"]) == ["slo_alert"] and "slo_alert" not in resolve(["all"])


def _placed(scenario: Scenario) -> list[tuple[str, str]]:
    snapshot = EvidenceSnapshot(now=scenario.now, series=scenario.prometheus.series,
                                objects=scenario.kubernetes.objects,
                                topology=scenario.topology.edges)
    alerts = [AlertView(status=a.status, labels=a.labels, starts_at=a.starts_at)
              for h in scenario.alerts for a in h.alerts]
    return alert_entities(Index.build(snapshot), alerts)


def test_the_burn_rate_alerts_are_about_the_place_the_originals_were() -> None:
    scenario = sample("gen-bad-deploy-easy-058")
    for seed in range(4):
        out = slo_alert(scenario, seed)
        assert _labels(out.alerts) != _labels(scenario.alerts)
        assert _placed(out) == _placed(scenario) != []
    # an alert about a pod, not a service (CPU throttling), is no SLO's: it stays as it was
    pods = sample("gen-cpu-saturation-easy-002")
    assert slo_alert(pods, 1).alerts == pods.alerts
