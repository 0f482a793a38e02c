"""The `slo_alert` transform: the alerts an SLO tool fires instead of the service's own.

A team that alerts on error-budget burn gets one alert per SLO from the tool that generates
its rules, labelled in the tool's own keys: Sloth's `sloth_service`, `sloth_slo` and
`sloth_id`, Pyrra's `slo` (the SLO object, named after the service) beside its window labels.
None of the keys warroom places an alert by is left; the service is named only inside values.
"""

from __future__ import annotations

from warroom.agents.diagnostician.index import named_place
from warroom.scenarios.models import Scenario
from warroom.scenarios.transforms_raw import relabelled_alerts
from warroom.scenarios.transforms_world import rng_for


# the labels two SLO tools give their burn-rate alerts: Sloth names the service and the SLO,
# Pyrra the SLO object (named after the service) in its namespace; neither keeps the
# service's own labels
def _sloth(place: str, labels: dict[str, str]) -> dict[str, str]:
    return {"alertname": "SLOErrorBudgetBurn", "sloth_service": place,
            "sloth_slo": "requests-availability", "sloth_id": f"{place}-requests-availability",
            "sloth_severity": "page"}


def _pyrra(place: str, labels: dict[str, str]) -> dict[str, str]:
    kept = {"namespace": labels["namespace"]} if labels.get("namespace") else {}
    return {"alertname": "ErrorBudgetBurn", "slo": f"{place}-availability", "long": "1h",
            "short": "5m", "severity": "critical", **kept}


def slo_alert(scenario: Scenario, seed: int = 0) -> Scenario:
    """Replace every alert about a service by the burn-rate alert an SLO tool (Sloth or
    Pyrra) fires for it: its labels name the service only inside values of their own keys."""
    style = rng_for(scenario, "slo_alert", seed).choice((_sloth, _pyrra))

    def burning(labels: dict[str, str]) -> dict[str, str]:
        # a workload label names the subject of a kube-state-metrics alert, whose `service`
        # is the exporter's
        place = next((labels[k] for k in ("deployment", "statefulset", "daemonset")
                      if labels.get(k)), "") or named_place(labels)
        return style(place, labels) if place else labels

    return scenario.model_copy(update={"alerts": relabelled_alerts(scenario.alerts, burning)})
