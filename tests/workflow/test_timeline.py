from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.config import Settings
from warroom.ingest.models import AlertmanagerWebhook
from warroom.ingest.service import ingest_alertmanager
from warroom.store import audit
from warroom.workflow.timeline import build_timeline, incident_timeline_text, render_timeline


async def test_timeline_orders_signals_and_audit_events_and_renders_them(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, fixtures_dir: Path
) -> None:
    body = json.loads((fixtures_dir / "alertmanager-webhook-firing.json").read_text())
    async with sessions() as session, session.begin():
        result = await ingest_alertmanager(
            session, AlertmanagerWebhook.model_validate(body), settings=settings
        )
    incident_id = result.incidents[0].id
    async with sessions() as session, session.begin():
        await audit.append(session, kind="execution.call", incident_id=incident_id,
                           decision_token="d_1",
                           payload={"executor": "shadow", "kubectl": "kubectl -n shop scale",
                                    "request": {"method": "PATCH", "path": "/apis/x"}})
        await audit.append(session, kind="verification.recorded", incident_id=incident_id,
                           decision_token="d_1", payload={"verdict": "success", "score": 1.0})
    async with sessions() as session:
        timeline = await build_timeline(session, incident_id)
        text = await incident_timeline_text(session, incident_id)
    stages = [e["stage"] for e in timeline]
    assert stages[0] == "signal" and stages[-2:] == ["execution", "verification"]
    assert timeline[-2]["summary"] == "shadow: PATCH /apis/x  (kubectl -n shop scale)"
    assert "success (self-healing score 1.0)" in text
    assert render_timeline({"decision": None, "timeline": []}) == ""
