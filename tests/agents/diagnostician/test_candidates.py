"""Candidates: findings combined per (place, fault), and faults that compete on one place."""

from __future__ import annotations

from warroom.agents.diagnostician.candidates import Candidate, noisy_or, resolve_competing
from warroom.agents.diagnostician.findings import Finding


def _finding(fault: str, weight: float, evidence: str, source: str = "logs") -> Finding:
    return Finding("shop", "cart", fault, weight, evidence, source=source)


def test_independent_findings_add_up_and_the_same_evidence_counts_once() -> None:
    one = _finding("application_error", 0.5, "NullPointerException in CartService")
    other = _finding("application_error", 0.5, "error ratio 30% (baseline 0%)", "metrics")
    assert noisy_or([one]) == 0.5
    assert noisy_or([one, other]) == 0.75
    assert noisy_or([one, one]) == 0.5
    # no single finding is certain
    assert noisy_or([_finding("oom", 1.0, "OOMKilled")]) == 0.95


def test_a_rollout_whose_new_pods_fail_on_their_configuration_is_a_config_error() -> None:
    ent = ("shop", "cart")
    deploy = Candidate(ent, "bad_deploy", [_finding("bad_deploy", 0.7, "deploy", "changes")],
                       score=0.7)
    config = Candidate(ent, "config_error", [_finding("config_error", 0.45, "missing key")],
                       score=0.45)
    code = Candidate(ent, "application_error", [_finding("application_error", 0.5, "trace")],
                     score=0.5)
    cands = {(ent, c.fault): c for c in (deploy, config, code)}
    resolve_competing(cands)
    assert config.score > deploy.score
    assert code.score < 0.5  # the exceptions are how the configuration error shows
