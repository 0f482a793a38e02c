"""Trouble that predates the incident weighs less away from the alert, in full on it."""

from __future__ import annotations

from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.oldtrouble import (
    CHRONIC_FACTOR,
    OLD_TROUBLE,
    old_trouble,
    unchronic,
)


def _stuck(service: str, pod: str, weight: float = 0.8) -> Finding:
    return Finding("shop", service, "image_pull_error", weight, f"Pod shop/{pod}: stuck",
                   source="kubernetes", chronic=True)


def test_old_trouble_away_from_the_alert_counts_once_and_less() -> None:
    alerting = ("shop", "checkout")
    found = old_trouble([_stuck("cart", "cart-a"), _stuck("cart", "cart-b", 0.9),
                         _stuck("checkout", "checkout-a")], [alerting])
    assert [(f.service, round(f.weight, 3)) for f in found] == [
        ("cart", round(0.9 * OLD_TROUBLE, 3)),  # its pods stuck alike are one fact
        ("checkout", 0.8)]  # on the alerting place it is what the alert is about


def test_exceptions_logged_as_often_before_the_onset_are_discounted() -> None:
    logged = Finding("shop", "cart", "application_error", 0.5, "log: NullPointerException",
                     generic=True, source="logs")
    (chronic,) = unchronic([logged], {("shop", "cart")})
    assert chronic.weight == 0.5 * CHRONIC_FACTOR and "chronic" in chronic.evidence
    assert unchronic([logged], {("shop", "orders")}) == [logged]
