"""Name the team that owns the fix: the workload's own label, the configured map, or the fault."""

from __future__ import annotations

import re

from warroom.agents import workloads as wl
from warroom.agents.models import DiagnosisReport, Hypothesis
from warroom.agents.ports import DebateContext

COLLAB = "COLLAB"
INFRA_FAULTS = frozenset({"node_failure", "disk_pressure", "unschedulable", "network_latency",
                          "dns_failure", "certificate_expired"})
DB_FAULTS = frozenset({"database_saturation"})
_FRONTEND = re.compile(r"(^|-)(frontend|front|web|ui|www|portal|storefront|gateway)(-|$)")


def team_for(ctx: DebateContext, hyp: Hypothesis) -> str:
    """Return the team that owns one hypothesis' workload."""
    obj = wl.workload(ctx.evidence.objects, hyp.namespace, hyp.service) if hyp.namespace else None
    declared = wl.team_of(obj)
    if declared:
        return declared
    for key in (f"{hyp.namespace}/{hyp.service}", hyp.service):
        if key in ctx.service_teams:
            return ctx.service_teams[key]
    return fault_class(ctx, hyp)


def fault_class(ctx: DebateContext, hyp: Hypothesis) -> str:
    """Return FE, BE, INFRA or DB from the fault and where it sits in the topology."""
    if hyp.fault in INFRA_FAULTS or not hyp.namespace and hyp.fault != "external_dependency":
        return "INFRA"
    if hyp.fault in DB_FAULTS or (hyp.fault == "disk_pressure" and hyp.namespace):
        return "DB"
    callers = {a for a, b in ctx.evidence.topology if b == hyp.service}
    callees = {b for a, b in ctx.evidence.topology if a == hyp.service}
    if _FRONTEND.search(hyp.service) or (callees and not callers):
        return "FE"
    return "BE"


def responsible_team(ctx: DebateContext, diagnosis: DiagnosisReport) -> str:
    """Return the team for the package: COLLAB when unsure or when several teams are implicated."""
    hyps = diagnosis.hypotheses
    if diagnosis.abstain or not hyps:
        return COLLAB
    top = hyps[0]
    if top.confidence < 0.7:
        return COLLAB
    owner = team_for(ctx, top)
    rivals = {team_for(ctx, h) for h in hyps[1:3] if h.confidence >= top.confidence - 0.1
              and h.confidence >= 0.5}
    if rivals - {owner}:
        return COLLAB
    return owner
