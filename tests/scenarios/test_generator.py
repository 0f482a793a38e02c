"""The scenario generator: valid, deterministic, every fault class, policy-true expectations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from warroom.agents.models import FAULTS
from warroom.scenarios.generator import generate, main
from warroom.scenarios.models import Scenario

SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "scenario.schema.json"
REGRESSION = Path(__file__).resolve().parents[2] / "scenarios" / "regression"

# the remediation policy of the team brief: acceptable action types and human_required
POLICY: dict[str, tuple[set[str], bool]] = {
    "memory_leak": ({"rollout_restart", "escalate"}, False),
    "memory_limit_too_low": ({"set_resources", "escalate"}, False),
    "cpu_saturation": ({"scale", "set_hpa", "set_resources", "escalate"}, False),
    "traffic_surge": ({"set_hpa", "scale", "escalate"}, False),
    "bad_deploy": ({"rollout_undo", "escalate"}, False),
    "application_error": ({"escalate"}, False),
    "config_error": ({"rollout_undo", "escalate"}, True),
    "image_pull_error": ({"rollout_undo", "escalate"}, False),
    "probe_failure": ({"rollout_undo", "escalate"}, False),
    "external_dependency": ({"escalate"}, True),
    "dns_failure": ({"escalate"}, True),
    "database_saturation": ({"escalate"}, True),
    "disk_pressure": ({"escalate"}, True),
    "certificate_expired": ({"escalate"}, True),
    "network_latency": ({"escalate", "rollout_restart"}, True),
    "node_failure": ({"cordon_node", "drain_node", "escalate"}, True),
    "unschedulable": ({"escalate"}, True),
    "none": ({"no_action", "escalate"}, False),
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("gen")
    paths = generate(out, count=len(FAULTS) * 3, seed=5)
    return [json.loads(p.read_text()) for p in paths]


def _place_exists(doc: dict[str, Any]) -> bool:
    rc = doc["expected"]["root_cause"]
    objs = doc["kubernetes"]["objects"]
    if rc["namespace"] == "":
        nodes = {o["metadata"]["name"] for o in objs if o["kind"] == "Node"}
        hosts = {b for _, b in doc["topology"]["edges"]}
        return rc["service"] in nodes or rc["service"] in hosts
    return any(o["kind"] in ("Deployment", "StatefulSet")
               and o["metadata"]["name"] == rc["service"]
               and o["metadata"]["namespace"] == rc["namespace"] for o in objs)


def test_every_scenario_validates_against_the_shared_schema(
        generated: list[dict[str, Any]]) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    for doc in generated:
        errors = list(validator.iter_errors(doc))
        assert not errors, (doc["id"], errors[0].message)
        Scenario.model_validate(doc)


def test_covers_every_fault_at_three_difficulties(generated: list[dict[str, Any]]) -> None:
    seen = {(d["expected"]["root_cause"]["fault"], d["expected"]["difficulty"])
            for d in generated}
    assert {f for f, _ in seen} == set(FAULTS)
    assert {d for _, d in seen} == {"easy", "medium", "hard"}


def test_expected_follows_the_remediation_policy(generated: list[dict[str, Any]]) -> None:
    for doc in generated:
        exp = doc["expected"]
        fault = exp["root_cause"]["fault"]
        allowed, human = POLICY[fault]
        types = {a["type"] for a in exp["acceptable_actions"]}
        assert types <= allowed, (doc["id"], types)
        assert "escalate" in types, doc["id"]
        assert exp["human_required"] is human, doc["id"]
        acceptable = {(a["type"], a.get("target")) for a in exp["acceptable_actions"]}
        forbidden = {(a["type"], a.get("target")) for a in exp["forbidden_actions"]}
        assert not acceptable & forbidden, doc["id"]
        assert _place_exists(doc), doc["id"]


def test_harder_scenarios_carry_red_herrings(generated: list[dict[str, Any]]) -> None:
    hard = [d for d in generated if d["expected"]["difficulty"] == "hard"]
    upstream = 0
    for d in hard:
        rc = d["expected"]["root_cause"]
        labels = [a["labels"] for w in d["alerts"] for a in w["alerts"]]
        if all(lab.get("service") != rc["service"] for lab in labels):
            upstream += 1
    assert upstream >= len(hard) // 2
    culprit_targets = {f"{d['expected']['root_cause']['namespace']}/deployment/"
                       f"{d['expected']['root_cause']['service']}" for d in hard}
    foreign_deploys = [c for d in hard for c in d["changes"]
                       if c["kind"] == "deploy" and c["target"] not in culprit_targets]
    assert foreign_deploys


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", count=4, seed=9)
    b = generate(tmp_path / "b", count=4, seed=9)
    c = generate(tmp_path / "c", count=4, seed=10)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert [p.read_bytes() for p in a] != [p.read_bytes() for p in c]


def test_bad_count_is_refused_and_cli_writes_files(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="count"):
        generate(tmp_path, count=0, seed=1)
    assert main(["--out", str(tmp_path / "cli"), "--count", "2", "--seed", "3"]) == 0
    assert len(list((tmp_path / "cli").glob("*.json"))) == 2
    assert main(["--out", str(tmp_path / "x"), "--count", "0"]) == 2
    assert "count" in capsys.readouterr().err


def test_committed_regression_set_is_large_mixed_and_valid() -> None:
    files = sorted(REGRESSION.glob("*.json"))
    assert len(files) >= 72
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    per_fault: dict[str, set[str]] = {}
    for f in files:
        doc = json.loads(f.read_text())
        Scenario.model_validate(doc)
        exp = doc["expected"]
        if exp["difficulty"] == "easy":  # the schema check is slow; one file per fault class
            assert not list(validator.iter_errors(doc)), f.name
        per_fault.setdefault(exp["root_cause"]["fault"], set()).add(exp["difficulty"])
    assert set(per_fault) == set(FAULTS)
    counts = {fault: sum(1 for f in files if f"gen-{fault.replace('_', '-')}-" in f.name)
              for fault in FAULTS}
    assert min(counts.values()) >= 4, counts
    assert all(len(d) >= 2 for d in per_fault.values())


def test_a_bad_deploy_turns_the_pods_over_in_the_metrics(
        generated: list[dict[str, Any]]) -> None:
    """As a real rollout shows: old pods' series stop, the new ReplicaSet's pods' begin."""
    turned = 0
    for d in generated:
        if d["expected"]["root_cause"]["fault"] != "bad_deploy":
            continue
        name = d["expected"]["root_cause"]["service"]
        objects = {o["metadata"]["name"] for o in d["kubernetes"]["objects"]
                   if o["kind"] == "Pod" and o["metadata"]["name"].startswith(name + "-")}
        spans = {s["metric"]["pod"]: (s["values"][0][0], s["values"][-1][0])
                 for s in d["prometheus"]["series"]
                 if s["metric"].get("pod", "").startswith(name + "-")}
        latest = max(v[-1][0] for v in (s["values"] for s in d["prometheus"]["series"]))
        assert objects <= set(spans)  # the pods the API lists are the ones reporting now
        assert all(spans[p][1] == latest for p in objects)
        turned += any(p not in objects for p in spans)
    assert turned  # at least one rollout fell inside the window

