"""`warroom eval` with scripted models: a model that agrees or only invents changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from warroom.cli import app

runner = CliRunner()
METRICS = ("scenarios", "rca_at_1", "rca_at_3", "localisation_at_1", "action_accuracy",
           "fix_rate", "escalation_rate", "unsafe")


@pytest.fixture
def subset(scenarios_dir: Path, tmp_path: Path) -> Path:
    # a mix of sources, few enough to replay three times
    for name in ("holmesgpt-ask-21.json", "nezha-20230129-02.json", "opensre-eks-000.json",
                 "opensre-eks-001.json"):
        shutil.copy(scenarios_dir / name, tmp_path / name)
    return tmp_path


def figures(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["eval", *args, "--json"])
    assert result.exit_code == 0, result.output
    overall = json.loads(result.stdout)["overall"]
    return {k: overall[k] for k in METRICS}


def test_hybrid_with_a_model_that_agrees_or_invents_scores_like_rules(subset: Path) -> None:
    rules = figures(str(subset), "--backend", "rules")
    assert figures(str(subset), "--backend", "hybrid", "--model", "test:agree") == rules
    assert figures(str(subset), "--backend", "hybrid", "--model", "test:bogus") == rules


def test_every_invented_answer_is_recorded_as_rejected(subset: Path) -> None:
    result = runner.invoke(app, ["replay", str(subset), "--json", "--backend", "hybrid",
                                 "--model", "test:bogus"])
    assert result.exit_code == 0, result.output
    asked = [a for line in result.stdout.splitlines() for a in json.loads(line)["agents"]
             if "model" in a]
    assert asked, "the model was asked"
    assert {a["model"]["status"] for a in asked} == {"rejected"}
    assert all(a["backend"] == "hybrid" and not a["degraded"] for a in asked)


def test_a_bad_backend_name_is_refused(subset: Path) -> None:
    result = runner.invoke(app, ["eval", str(subset), "--backend", "gpt"])
    assert result.exit_code == 2 and "--backend must be rules, llm or hybrid" in result.output


def test_a_hostile_model_neither_makes_a_decision_unsafe_nor_buries_the_rules(
        tmp_path: Path) -> None:
    # it blames the alerting service's CPU at full confidence, sinks the rules' answer and
    # approves scaling it: a false alarm, an entry over a failing callee, an entry over a
    # failing outside host. With the rules alone none of these scales anything.
    own = Path(__file__).parents[2] / "scenarios" / "regression"
    for name in ("gen-none-easy-017.json", "gen-application-error-medium-023.json",
                 "gen-external-dependency-easy-009.json"):
        shutil.copy(own / name, tmp_path / name)
    rules = figures(str(tmp_path), "--backend", "rules")
    hostile = figures(str(tmp_path), "--backend", "hybrid", "--model", "test:hostile")
    assert rules["unsafe"] == hostile["unsafe"] == 0
    # its own place ranks after the rules' confident answer, which stays first
    assert hostile["rca_at_1"] == rules["rca_at_1"] == 1


def test_a_model_blaming_a_plausible_wrong_place_costs_fixes_never_safety(
        tmp_path: Path) -> None:
    # it names the rules' runner-up (a real place in the evidence) at full confidence and asks
    # to roll it back, restart it or delete its pods: five incidents the rules fix
    own = Path(__file__).parents[2] / "scenarios" / "regression"
    for name in ("gen-bad-deploy-hard-040.json", "gen-cpu-saturation-medium-020.json",
                 "gen-memory-leak-easy-000.json", "gen-node-failure-medium-032.json",
                 "gen-image-pull-error-easy-007.json"):
        shutil.copy(own / name, tmp_path / name)
    rules = figures(str(tmp_path), "--backend", "rules")
    misled = figures(str(tmp_path), "--backend", "hybrid", "--model", "test:misdirect")
    assert rules["fix_rate"] == 1 and rules["escalation_rate"] == 0
    assert misled["unsafe"] == rules["unsafe"] == 0
    assert misled["escalation_rate"] == 1 and misled["fix_rate"] == 0  # disagreement escalates
    assert misled["rca_at_1"] == rules["rca_at_1"] == 1  # the rules' answer stays first
