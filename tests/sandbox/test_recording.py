from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from warroom.agents.models import FAULTS
from warroom.sandbox.faults import FaultError
from warroom.sandbox.recording import record
from warroom.scenarios.models import Scenario

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "shared" / "scenario.schema.json"


@pytest.fixture(scope="module")
def schema() -> dict:
    if not SCHEMA_PATH.exists():
        pytest.fail(f"the scenario schema is missing at {SCHEMA_PATH}")
    return json.loads(SCHEMA_PATH.read_text())


@pytest.mark.parametrize("fault", FAULTS)
def test_every_fault_records_a_valid_scenario(fault: str, schema: dict) -> None:
    scenario = record(fault, difficulty=2, seed=5)
    jsonschema.validate(scenario, schema)
    parsed = Scenario.model_validate(scenario)
    assert parsed.expected is not None and parsed.expected.root_cause.fault == fault
    assert parsed.alerts and parsed.prometheus.series and parsed.kubernetes.objects
    firing = [a for hook in parsed.alerts for a in hook.alerts if a.status == "firing"]
    assert firing, "a recorded incident starts with a firing alert"
    assert all(a.starts_at <= parsed.now for a in firing)


def test_expected_follows_the_remediation_policy() -> None:
    leak = record("memory_leak", difficulty=1, seed=1)["expected"]
    assert leak["root_cause"] == {"namespace": "shop", "service": "checkout",
                                  "fault": "memory_leak"}
    assert {"type": "rollout_restart", "target": "shop/deployment/checkout"} in \
        leak["acceptable_actions"]
    assert not leak["human_required"]
    node = record("node_failure", difficulty=1, seed=1)["expected"]
    assert node["root_cause"] == {"namespace": "", "service": "worker-2",
                                  "fault": "node_failure"}
    assert {"type": "drain_node", "target": "/node/worker-2"} in node["acceptable_actions"]
    assert {"type": "drain_node", "target": "/node/worker-1"} in node["forbidden_actions"]
    assert node["human_required"]
    external = record("external_dependency", difficulty=1, seed=1)["expected"]
    assert external["root_cause"]["namespace"] == ""
    assert [a["type"] for a in external["acceptable_actions"]] == ["escalate"]


def test_the_same_seed_records_the_same_scenario() -> None:
    assert record("bad_deploy", seed=9) == record("bad_deploy", seed=9)
    assert record("bad_deploy", seed=9)["now"] != record("bad_deploy", seed=10)["now"]


def test_higher_difficulty_adds_red_herrings() -> None:
    easy = record("bad_deploy", difficulty=1, seed=2)
    hard = record("bad_deploy", difficulty=4, seed=2)
    assert [c["target"] for c in easy["changes"]] == ["shop/deployment/checkout"]
    assert "shop/deployment/notifications" in [c["target"] for c in hard["changes"]]
    blips = [a for hook in hard["alerts"] for a in hook["alerts"]
             if a["labels"].get("service") == "search"]
    assert blips and any(a["status"] == "resolved" for a in blips)


def test_bad_requests_are_refused() -> None:
    with pytest.raises(FaultError, match="unknown fault"):
        record("gremlins")
    with pytest.raises(FaultError, match="difficulty"):
        record("bad_deploy", difficulty=9)
