from __future__ import annotations

from pathlib import Path

from warroom.agents.models import Action, DecisionPackage
from warroom.config import Settings
from warroom.decisions.policy import evaluate


def _settings(tmp_path: Path, **update: object) -> Settings:
    base = Settings(home=tmp_path, _env_file=None,  # type: ignore[call-arg]
                    auto_execute_namespaces=["shop"], trust_threshold=0.8)
    return base.model_copy(update=update)


def _package(**update: object) -> DecisionPackage:
    pkg = DecisionPackage(
        status="ready", action=Action(type="rollout_restart", target="shop/deployment/cart"),
        requires_human_approval=False, risk="low", fault="memory_leak",
    )
    return pkg.model_copy(update=update)


TRUSTED = {"memory_leak/rollout_restart": 0.9}


def test_every_gate_open_auto_executes(tmp_path: Path) -> None:
    verdict = evaluate(_package(), settings=_settings(tmp_path), trust=TRUSTED)
    assert verdict.auto_execute and verdict.reasons == [] and verdict.requires_approvals == 1


def test_each_closed_gate_keeps_a_human_in_the_loop(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    cases = {
        "requires a human": (_package(requires_human_approval=True), TRUSTED),
        "risk is medium": (_package(risk="medium"), TRUSTED),
        "trust 0.80 is not above": (_package(), {"memory_leak/rollout_restart": 0.8}),
        "trust unknown": (_package(), {}),
        "'prod' is not in": (
            _package(action=Action(type="rollout_restart", target="prod/deployment/cart")),
            TRUSTED,
        ),
    }
    for reason, (package, trust) in cases.items():
        verdict = evaluate(package, settings=settings, trust=trust)
        assert not verdict.auto_execute, reason
        assert any(reason in r for r in verdict.reasons), (reason, verdict.reasons)


def test_critical_risk_needs_two_approvers(tmp_path: Path) -> None:
    verdict = evaluate(_package(risk="critical"), settings=_settings(tmp_path), trust=TRUSTED)
    assert verdict.requires_approvals == 2 and not verdict.auto_execute


def test_escalation_is_never_executable(tmp_path: Path) -> None:
    package = _package(action=Action(type="escalate", params={"reason": "unclear"}))
    verdict = evaluate(package, settings=_settings(tmp_path), trust={"memory_leak/escalate": 1})
    assert not verdict.executable and not verdict.auto_execute
