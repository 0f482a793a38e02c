"""Trouble that predates the incident: old states away from the alert, chronic log noise.

A pod stuck for days, an event repeated since last week, exceptions logged as often before the
onset as after: they are real, but not what this alert is about unless they sit on the
alerting place. They are kept as evidence and weigh less (rules.py applies them).
"""

from __future__ import annotations

from dataclasses import replace

from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.index import Entity

CHRONIC_FACTOR = 0.35  # exceptions logged as often before the onset: usual noise
OLD_TROUBLE = 0.25  # a state that began long before the incident, away from the alert


def old_elsewhere(f: Finding, alerts: list[Entity]) -> bool:
    """Tell whether a finding is old trouble away from the alerting place: not what the alert
    is about (on the alerting place it is, whatever its age)."""
    return f.chronic and f.entity not in alerts


def old_trouble(findings: list[Finding], alerts: list[Entity]) -> list[Finding]:
    """Weigh old trouble (a state that began long before the incident) away from the alert.

    It is not what this alert is about: it counts OLD_TROUBLE of its weight, and once per
    place and fault (the pods of one workload stuck alike for days are one fact, not
    independent evidence). On the alerting place it is what the alert is about, whatever its
    age, and counts in full.
    """
    out: list[Finding] = []
    kept: dict[tuple[Entity, str], int] = {}
    for f in findings:
        if not old_elsewhere(f, alerts):
            out.append(f)
            continue
        f = replace(f, weight=f.weight * OLD_TROUBLE)
        at = kept.get((f.entity, f.fault))
        if at is None:
            kept[(f.entity, f.fault)] = len(out)
            out.append(f)
        elif f.weight > out[at].weight:
            out[at] = f
    return out


def unchronic(findings: list[Finding], chronic: set[Entity]) -> list[Finding]:
    """Discount exceptions a place logged before the onset as often as after: usual noise."""
    return [replace(f, weight=f.weight * CHRONIC_FACTOR,
                    evidence=f"{f.evidence} (logged as often before the onset: chronic)")
            if f.entity in chronic and f.generic and f.fault == "application_error" else f
            for f in findings]
