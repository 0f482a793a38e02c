from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from warroom.agents.models import Action, DecisionPackage, Hypothesis
from warroom.agents.ports import DebateContext
from warroom.config import Settings
from warroom.llm.service import ModelRuntime
from warroom.llm.summary import write_summary
from warroom.sensors.models import EvidenceSnapshot


def make_ctx(**kwargs: Any) -> DebateContext:
    return DebateContext(session_id="s", evidence=EvidenceSnapshot(
        now=datetime(2026, 12, 4, tzinfo=UTC)), **kwargs)


def package() -> DecisionPackage:
    return DecisionPackage(
        status="ready", risk="low", fault="bad_deploy", requires_human_approval=True,
        action=Action(type="rollout_undo", target="shop/deployment/checkout"),
        hypotheses=[Hypothesis(namespace="shop", service="checkout", fault="bad_deploy",
                               confidence=0.9)])


async def test_without_a_model_the_template_writes_it() -> None:
    ctx = make_ctx(namespace="shop", service="checkout", priority="P1", title="errors")
    text, source, turn = await write_summary(ctx, package(), None)
    assert source == "rules" and turn is None
    assert text.startswith("P1 incident on shop/checkout: errors.")
    assert "bad deploy on shop/checkout (confidence 0.90)" in text
    assert "rollout undo shop/deployment/checkout (risk low); a human must approve it." in text


async def test_the_routed_summary_model_writes_it_and_a_broken_one_falls_back() -> None:
    ctx = make_ctx(namespace="shop", service="checkout")
    agree = ModelRuntime(Settings(_env_file=None, llm_model="test:agree"))  # type: ignore[call-arg]
    text, source, turn = await write_summary(ctx, package(), agree)
    assert source == "model" and turn is not None and turn.status == "accepted"
    assert text.startswith("P3 incident on shop/checkout.")  # it echoed the template
    down = ModelRuntime(Settings(_env_file=None, llm_model="test:garbage"))  # type: ignore[call-arg]
    text, source, turn = await write_summary(ctx, package(), down)
    assert source == "rules" and turn is not None and turn.status == "failed"
