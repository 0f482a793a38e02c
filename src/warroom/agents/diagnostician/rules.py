"""The rule-based Diagnostician: analyzers -> findings -> localised, ranked, calibrated hypotheses.

Pipeline: index the snapshot; score every series against its own baseline; run the Kubernetes,
metric, log and change analyzers; combine the findings per (place, fault) by noisy-OR; weigh
each place by where it sits relative to the alert (the walk down the dependency graph); discount
generic symptoms that an anomalous dependency explains; map the score to a calibrated
confidence. Evidence is only ever read, never executed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from warroom.agents.diagnostician.anomaly import Signal, alert_error_floor, score_all, split_time
from warroom.agents.diagnostician.calibration import confidences
from warroom.agents.diagnostician.candidates import Candidate, noisy_or, resolve_competing
from warroom.agents.diagnostician.changes import (
    change_findings,
    recent_deploy,
    rollouts_from_pod_series,
    rollouts_from_replicasets,
)
from warroom.agents.diagnostician.context import document_findings, history_findings
from warroom.agents.diagnostician.excursion import ERROR_FLOOR
from warroom.agents.diagnostician.faulttype import killed_at_limit
from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.healthreports import health_report_findings
from warroom.agents.diagnostician.hops import hop_delay_findings
from warroom.agents.diagnostician.index import Entity, Index
from warroom.agents.diagnostician.inference import infer_links, undirected_links, unmapped_links
from warroom.agents.diagnostician.kubernetes import kubernetes_findings
from warroom.agents.diagnostician.kubestate import kube_state_findings, rollouts_from_generations
from warroom.agents.diagnostician.localise import (
    METHOD_WEIGHT,
    blame_blind_hosts,
    blame_stopped_node,
    gather,
    mark_victims,
    method_findings,
)
from warroom.agents.diagnostician.logs import collect, dns_entity, log_findings, pointers
from warroom.agents.diagnostician.metrics import (
    Stat,
    compute_stats,
    metric_findings,
    symptoms,
)
from warroom.agents.diagnostician.oldtrouble import old_elsewhere, old_trouble, unchronic
from warroom.agents.diagnostician.shortseries import young_series_findings
from warroom.agents.diagnostician.templates import (
    chronic_places,
    error_lines,
    template_scores,
    template_shifts,
)
from warroom.agents.diagnostician.topology import Graph, alert_entities, alert_findings, relation
from warroom.agents.diagnostician.traces import (
    error_chain_findings,
    error_traces,
    trace_events,
    trace_findings,
)
from warroom.agents.diagnostician.walk import leader_below, off_path_factor, rank_places
from warroom.agents.models import DiagnosisReport
from warroom.agents.ports import DebateContext
from warroom.sensors.models import EvidenceSnapshot

ABSTAIN_BELOW = 0.4
_SAID = frozenset({"kubernetes", "logs", "documents", "traces"})  # a place's own account
SATURATED = 0.3  # anomaly of a place's own resource series that rules out "nothing is wrong"
OWN_ANOMALY = 0.6 * METHOD_WEIGHT  # a method finding this strong is the place's own trouble
FIRST_SLACK = timedelta(minutes=2)
MAX_HYPOTHESES = 5
_MAX_EVIDENCE = 6


def _onsets(stats: list[Stat]) -> dict[Entity, datetime]:
    out: dict[Entity, datetime] = {}
    for st in stats:
        if st.onset is not None and abs(st.z) >= 3:
            prev = out.get(st.entity)
            out[st.entity] = st.onset if prev is None else min(prev, st.onset)
    return out


def _default_onset(snapshot: EvidenceSnapshot, alerts: list[Entity],
                   onsets: dict[Entity, datetime]) -> datetime:
    known = [onsets[a] for a in alerts if a in onsets]
    if known:
        return min(known)
    # the trouble diagnosed is the one firing: an alert that already resolved may belong to an
    # earlier episode of a re-opened incident
    starts = [a.starts_at for a in snapshot.alerts if a.status == "firing"] or [
        a.starts_at for a in snapshot.alerts]
    if starts:
        return min(starts) - timedelta(minutes=5)
    return snapshot.now - timedelta(minutes=15)


def _broke_first(findings: list[Finding]) -> set[Entity]:
    """Places the method found clearly anomalous on their own (no anomalous callee explains
    them) whose anomaly started first: what a configuration change there would explain."""
    strong = [f for f in findings if f.source == "method" and not f.generic
              and f.weight >= OWN_ANOMALY and f.onset is not None]
    if not strong:
        return set()
    first = min(f.onset for f in strong if f.onset is not None)
    return {f.entity for f in strong if f.onset is not None and f.onset <= first + FIRST_SLACK}


def _none_score(quiet: bool, troubled_alert: bool, resolved: bool, best: float) -> float:
    """Score "healthy, recovered or a false alarm" against the best fault found."""
    base = 0.35 if quiet else (0.12 if troubled_alert else 0.25)
    return (base + (0.3 if quiet else 0.0) + (0.2 if resolved else 0.0)) * (1 - best)


def _deepest(g: Graph, alerts: list[Entity]) -> Entity:
    """Pick the alerting place the other alerting places depend on (callers inherit symptoms)."""
    for a in alerts:
        below = g.below(a)
        if not any(b != a and b in below for b in alerts):
            return a
    return alerts[0]


def _explainers(ix: Index, g: Graph, ent: Entity, dns: Entity) -> set[Entity]:
    """Places whose failure would explain generic symptoms at `ent`."""
    out = g.below(ent) | {dns}
    for (ns, pod) in ix.pods:
        if ns == ent[0] and ix.owner_of_pod(ns, pod) == ent:
            node = ix.pod_node(ns, pod)
            if node:
                out.add(("", node))
    out.discard(ent)
    return out


_DB_FOLD = {"cpu_saturation", "application_error", "memory_limit_too_low", "memory_leak",
            "traffic_surge", "probe_failure"}


def _fold(ix: Index, f: Finding, dns: Entity) -> Finding:
    """Name faults of shared infrastructure by what they do to everyone else."""
    if f.entity == dns and f.fault not in ("node_failure", "dns_failure"):
        return replace(f, fault="dns_failure", generic=False)
    if f.fault in _DB_FOLD and ix.is_database(f.entity):
        return replace(f, fault="database_saturation")
    return f


def diagnose_snapshot(snapshot: EvidenceSnapshot, *, namespace: str = "",
                      service: str = "") -> DiagnosisReport:
    """Rank root-cause hypotheses for one evidence snapshot."""
    ix = Index.build(snapshot)
    now = snapshot.now
    firing = [a for a in snapshot.alerts if a.status == "firing"] or snapshot.alerts
    alerts = alert_entities(ix, firing)
    if not alerts and service:
        alerts = [ix.entity(service, namespace)]
    g = Graph.build(ix, alerts[0][0] if alerts else namespace)
    mapped = not g.empty  # the snapshot's own call graph, not one inferred from its logs
    reach = g.downstream(alerts)
    dns = dns_entity(ix)

    stats = compute_stats(ix)
    onsets = _onsets(stats)
    default_onset = _default_onset(snapshot, alerts, onsets)
    earliest = min([default_onset, *onsets.values()])
    logev = collect(ix, since=max(earliest, default_onset - timedelta(minutes=20))
                    - timedelta(minutes=3))
    hints = pointers(logev)
    errors = error_traces(ix)  # per trace id: who logged an error, when
    events = trace_events(ix)  # per trace id: who logged any line, when
    if not mapped:
        infer_links(g, logev, errors, events)
        reach = g.downstream(alerts)
    elif unmapped_links(g, logev):
        reach = g.downstream(alerts)
    floor = alert_error_floor(ix, alerts)
    signals = score_all(ix, floor)
    anchor = split_time(ix)
    strong_onsets = sorted(s.onset for s in signals if s.onset and s.score >= 0.3
                           and (s.entity in reach or not reach))
    log_onset = (datetime.fromtimestamp(anchor, tz=UTC) if anchor is not None
                 else strong_onsets[0] if strong_onsets else default_onset)
    lines = error_lines(ix)
    tscores = template_scores(template_shifts(ix, log_onset, lines))
    chronic = chronic_places(ix, log_onset, tscores, lines)
    places = gather(signals, tscores, hints, anchor)  # anchor: which places went wrong late
    by_place: dict[Entity, dict[str, Signal]] = defaultdict(dict)
    for sig in signals:  # the strongest series of each name per place, anomalous or not
        if sig.score >= by_place[sig.entity].get(sig.name, sig).score:
            by_place[sig.entity][sig.name] = sig
    weak, sinks = ({}, frozenset[Entity]()) if mapped else undirected_links(ix, places)
    mark_victims(places, g, by_place, shared=(dns,), weak=weak, sinks=sinks)
    # below the alert by a call graph or by what the logs show, not by the victim rule's guess
    grounded = set(reach) | set(alerts)
    if not mapped:  # a link the victim rule gave a direction is a call the walk may follow
        for ent, p in places.items():
            if p.victim_of is not None and p.victim_of != dns:
                g.add(ent, p.victim_of)
        reach = g.downstream(alerts)
    blame_stopped_node(ix, places)
    observed = {s.entity for s in signals} | {ix.stream_owner(st) for st in snapshot.logs
                                               if st.pod}
    blame_blind_hosts(ix, places, g, observed)
    ranks = rank_places(places, g, alerts)
    hinted = alert_findings(ix, snapshot.alerts)
    method = method_findings(ix, places, alerts, {f.entity: f.fault for f in hinted},
                             ranks if leader_below(ranks, alerts, reach) else None,
                             fired_on=frozenset({"errors"} if floor < ERROR_FLOOR else ()))
    # the pattern at a place (faulttype.py) says what its golden-signal symptoms are a sign of
    typed = {f.entity: f.fault for f in method}
    findings = [*method,
                *metric_findings(stats), *young_series_findings(ix),
                *kubernetes_findings(ix, now), *kube_state_findings(ix),
                *unchronic(log_findings(ix, logev), chronic),
                *hinted,
                *document_findings(ix, alerts), *health_report_findings(ix, alerts),
                *trace_findings(ix),
                *error_chain_findings(errors, g), *hop_delay_findings(ix, g, events),
                *history_findings(ix)]
    sym = symptoms(stats)
    for ent, texts in sym.items():
        if any("error ratio" in t for t in texts) and ent[1] not in ix.nodes:
            findings.append(Finding(ent[0], ent[1], typed.get(ent, "application_error"), 0.2,
                                    "; ".join(texts), generic=True, source="metrics"))
        elif ent[1] not in ix.nodes and not ix.is_database(ent):
            # slower, not failing: time lost between the service and what it calls; the walk
            # to the deepest anomalous callee discounts callers that merely inherit it
            findings.append(Finding(ent[0], ent[1], typed.get(ent, "network_latency"), 0.2,
                                    "; ".join(texts) + " with no error increase",
                                    generic=True, source="metrics"))
    troubled: dict[Entity, bool] = {ent: False for ent in sym}
    for f in findings:
        if f.source in ("kubernetes", "logs") and not old_elsewhere(f, alerts):
            troubled[f.entity] = True
        else:
            troubled.setdefault(f.entity, False)
    changes = [*snapshot.changes, *rollouts_from_replicasets(ix, snapshot.changes, now)]
    changes += rollouts_from_generations(ix, changes)
    changes += rollouts_from_pod_series(ix, changes)
    findings += change_findings(ix, changes, onsets, troubled, default_onset,
                                broke_first=_broke_first(findings),
                                moved={e: 0.0 if p.over else p.anomaly
                                       for e, p in places.items()})

    findings = old_trouble([_fold(ix, f, dns) for f in findings], alerts)
    cands: dict[tuple[Entity, str], Candidate] = {}
    for f in findings:
        key = (f.entity, f.fault)
        cands.setdefault(key, Candidate(f.entity, f.fault, [])).findings.append(f)
    for c in cands.values():
        c.score = noisy_or(c.findings)
    resolve_competing(cands)

    strong = {c.entity for c in cands.values() if not c.generic and c.score >= 0.4}
    moved = {e for e, p in places.items() if p.anomaly >= 0.3}  # over by now: not trouble now
    lasting = {e for e in moved if not places[e].over}
    jumped = {s.entity for s in signals if s.jumped}  # the newest sample, as an alert sees it
    anomalous = strong | set(sym) | moved | {e for e, n in hints.items() if n >= 2}
    for c in cands.values():
        factor, c.place = relation(ix, g, c.entity, alerts, reach, dns, mapped=mapped)
        c.score *= factor
        off, off_why = off_path_factor(ranks, c.entity, alerts, reach)
        if off < 1.0 and c.entity != dns and c.entity[1] not in ix.node_names:  # shared: kept
            c.score *= off
            c.place += f"; {off_why}"
        if c.generic:
            victim_of = places[c.entity].victim_of if c.entity in places else None
            explained = (_explainers(ix, g, c.entity, dns)
                         | ({victim_of} if victim_of else set())) & anomalous
            if explained:
                c.score *= 0.35
                c.place += f"; its dependency {sorted(explained)[0][1]} is anomalous too"
            elif hints.get(c.entity):
                c.score = 1 - (1 - c.score) * 0.8
        if c.fault == "application_error" and recent_deploy(
                ix, changes, c.entity, onsets.get(c.entity, default_onset)):
            c.score *= 0.6

    ranked = sorted(cands.values(), key=lambda c: (-c.score, c.entity, c.fault))
    best = ranked[0].score if ranked else 0.0

    def trouble(e: Entity, min_hints: int = 1) -> bool:
        return bool(e in sym or e in strong or e in lasting or troubled.get(e)
                    or hints.get(e, 0) >= min_hints)

    troubled_alert = any(trouble(a, 2) or a in jumped for a in alerts)
    resolved = bool(snapshot.alerts) and all(a.status == "resolved" for a in snapshot.alerts)
    # without a call graph, any place may be below a firing alert; once every alert has
    # resolved, trouble the inferred links do not tie to it is another incident's
    # ... and with no alert placed at all (labels that name no place warroom knows), every
    # place is: "nothing is wrong" must beat all that moved
    below_alert = (set(reach) if alerts and (mapped or resolved)
                   else {*reach, *places, *troubled, *hints}) - set(alerts)
    chain = any(trouble(e) for e in below_alert)
    # a place anywhere that ran out of its own resources (not inherited from a callee): the
    # alert may be on the wrong service, but "nothing is wrong" is not what the evidence says
    chain = chain or any(p.victim_of is None and not p.over
                         and p.kind_score({"saturation"}) >= SATURATED for p in places.values())
    metered = {st.entity for st in stats}
    podded = {ix.owner_of_pod(*p) for p in ix.pods}
    # health is only shown by what was looked at: the alert's own signals, or (with no metrics
    # at all) its pods, and nothing anomalous below it
    judged = not alerts or any(a in metered or (not metered and a in podded) for a in alerts)
    quiet = not troubled_alert and not chain and judged
    # nothing at all of the alerting service: no series, pod or log of it
    unseen = bool(alerts) and not any(a in observed | metered | podded for a in alerts)
    # something below the alert moved: "nothing is wrong" must beat that, not only the alert
    none_score = _none_score(quiet, troubled_alert or chain, resolved, best)
    # "nothing is wrong" only when nothing is: a firing alert over a place below it whose own
    # signals moved beyond the noise its baseline allows (or whose container was killed at
    # its memory limit) ranks that place first (the decision still abstains)
    below = [c.score for c in ranked if c.entity in below_alert and c.entity in places
             and (places[c.entity].moved_beyond_chance or (
                 places[c.entity].moved_at_all and killed_at_limit(ix, c.entity)))]
    if below and not resolved and not quiet:
        none_score = min(none_score, 0.9 * max(below))
    place = _deepest(g, alerts) if alerts else (namespace, service)
    scored: list[tuple[float, Entity, str, list[str]]] = []
    for c in ranked:
        if c.score < min(0.05, none_score) or len(scored) >= MAX_HYPOTHESES:
            break
        ev = [f.evidence for f in sorted(c.findings, key=lambda f: -f.weight)]
        ev = list(dict.fromkeys(ev))[:_MAX_EVIDENCE]
        ev.append(f"localisation: {c.place}")
        scored.append((c.score, c.entity, c.fault, ev))
    if none_score > best or not scored:
        healed = any(a in places and places[a].over for a in alerts)
        why = ["the alerting service's own signals moved and are back within their baseline: "
               "that trouble is over" if quiet and healed else
               "no anomaly on the alerting service's own signals" if quiet else
               "the signals of the alerting service are only mildly off their baseline"
               if troubled_alert else
               "nothing observed of the alerting service to judge it by" if unseen else
               "no anomaly on the alerting service's own signals; what moved below it is too "
               "weak to name" if chain else
               "no anomaly in what was observed of the alerting service"]
        if resolved:
            why.append("every alert has resolved")
        why.append(f"strongest other hypothesis scores {best:.2f}")
        scored.insert(0, (none_score, place, "none", why))
        scored = scored[:MAX_HYPOTHESES]
    hyps = confidences(scored)
    top = hyps[0]
    # a place found only by the anomaly method (no object, log phrase, change or named metric
    # says what broke) is a hypothesis to hand a human, never one to act on
    method_only = bool(ranked) and scored[0][1:3] == (ranked[0].entity, ranked[0].fault) and \
        all(f.source == "method" or (f.source == "metrics" and f.generic)
            for f in ranked[0].findings)
    # a place only the victim rule's guess puts below the alert, and that got slower, may be
    # waiting on something nobody observes below it (blame_blind_hosts, with no graph to say
    # what it calls): name it, but act on it only when its own objects or logs say what broke
    top_at = (top.namespace, top.service)
    top_cand = cands.get((top_at, top.fault))
    unplaced = (top_at in reach and top_at not in grounded and top_cand is not None
                and top_at in places and places[top_at].kind_score({"latency"}) >= 0.25
                and not any(f.source in _SAID and not f.generic for f in top_cand.findings))
    # "nothing is wrong" about an alert nothing was observed of is no finding: a human looks
    blind = top.fault == "none" and unseen and not resolved
    abstain = top.confidence < ABSTAIN_BELOW or method_only or unplaced or blind
    summary = (f"{top.fault} at {top.namespace + '/' if top.namespace else ''}{top.service} "
               f"(confidence {top.confidence:.2f})"
               + (f": {top.evidence[0]}" if top.evidence else ""))
    if method_only and top.confidence >= ABSTAIN_BELOW:
        summary = f"escalating, localised from anomalies alone: {summary}"
    elif unplaced and top.confidence >= ABSTAIN_BELOW:
        summary = f"escalating, placed below the alert by guess: {summary}"
    elif blind and top.confidence >= ABSTAIN_BELOW:
        summary = f"escalating, the alerting service is not in the evidence: {summary}"
    elif abstain:
        summary = f"abstaining, best guess {summary}"
    return DiagnosisReport(hypotheses=hyps, abstain=abstain, summary=summary)


class RuleDiagnostician:
    """Diagnostician backend built from analyzers and rules (no language model)."""

    async def diagnose(self, ctx: DebateContext) -> DiagnosisReport:
        """Rank root-cause hypotheses with confidence and cited evidence."""
        return diagnose_snapshot(ctx.evidence, namespace=ctx.namespace, service=ctx.service)
