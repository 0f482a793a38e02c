"""The model path through the real analysis, database, audit trail, API and incident page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from warroom.agents.service import analyze_incident
from warroom.api.testing import app_client
from warroom.config import Settings
from warroom.learn.service import playbook_trust
from warroom.llm.debate import LanguageModels
from warroom.store.audit import list_events, verify_chain
from warroom.store.tables import LLMCacheEntry, LLMTurnRow

from ..test_service import NOW, KubeSensor, open_incident

Sessions = async_sessionmaker[AsyncSession]

# what the composition root hands the debate: learn's trust, llm's models
PORTS: dict[str, Any] = {"trust": playbook_trust, "models": LanguageModels()}


async def test_hybrid_analysis_audits_caches_and_shows_model_turns(
        sessions: Sessions, settings: Settings, engine: AsyncEngine,
        fixtures_dir: Path) -> None:
    settings = settings.model_copy(update={"agent_backend": "hybrid",
                                           "llm_model": "test:bogus"})
    async with sessions() as session:
        incident_id = await open_incident(session, settings, fixtures_dir)
        rules = await analyze_incident(
            session, incident_id, **PORTS, settings=settings.model_copy(update={
                "agent_backend": "rules", "llm_model": ""}), now=NOW, sensors=[KubeSensor()])
        first = await analyze_incident(session, incident_id, settings=settings, now=NOW,
                                       sensors=[KubeSensor()], **PORTS)
        await session.commit()
    assert first.package.model_dump(exclude={"summary"}) == rules.package.model_dump(
        exclude={"summary"})
    asked = [t for t in first.turns if t.model is not None]
    assert asked and all(t.model.status == "rejected" and not t.model.cached for t in asked)
    assert all("the rule answer stands" in t.model.reason for t in asked)
    assert "no-such-service-in-evidence" in asked[0].model.reason

    async with sessions() as session:
        second = await analyze_incident(session, incident_id, settings=settings, now=NOW,
                                        sensors=[KubeSensor()], **PORTS)
        await session.commit()
    again = [t for t in second.turns if t.model is not None]
    assert [t.role for t in again] == [t.role for t in asked]
    assert all(t.model.cached and t.model.status == "rejected" for t in again)

    async with sessions() as session:
        events = await list_events(session, incident_id=incident_id, kind="agent.turn")
        audited = [e.payload for e in events if e.session_id == first.session_id
                   and e.payload.get("model")]
        assert len(audited) == len(asked)
        for payload in audited:
            assert payload["backend"] == "hybrid"
            assert payload["model"]["status"] == "rejected"
            assert "no-such-service-in-evidence" in str(payload["model"]["said"])
        assert (await verify_chain(session)).ok
        rows = await session.scalar(select(func.count(LLMTurnRow.id)))
        assert rows == (len(asked) + 1) * 2, "the agents' turns and the summary's"
        assert await session.scalar(select(func.count(LLMCacheEntry.key))) == len(asked) + 1

    async with app_client(settings, engine=engine, hooks=False) as client:
        detail = (await client.get(f"/api/v1/incidents/{incident_id}")).json()
        page = await client.get(f"/incidents/{incident_id}")
    llm = detail["llm"]
    assert llm["totals"]["turns"] == (len(asked) + 1) * 2
    assert llm["totals"]["cached"] == len(asked) + 1
    assert llm["totals"]["input_tokens"] > 0
    assert {t["status"] for t in llm["turns"] if t["role"] != "summary"} == {"rejected"}
    assert page.status_code == httpx.codes.OK
    assert "Language-model usage" in page.text and "model rejected" in page.text
    # the bogus model's summary names its invented service: a summary is free text for
    # humans, so it is shown as the model's, never acted upon
    assert detail["summary"]["source"] == "model"
    assert "written by a model" in page.text
