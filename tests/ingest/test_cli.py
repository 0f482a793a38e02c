"""`warroom incidents show`: the incident, its signals and (wired by `warroom.cli`) its timeline."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from warroom.cli import app as cli
from warroom.config import Settings, get_settings
from warroom.ingest.models import AlertmanagerWebhook
from warroom.ingest.service import ingest_alertmanager
from warroom.store.db import make_engine, make_sessionmaker, transaction
from warroom.store.migrate import upgrade

T0 = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
FIRING = AlertmanagerWebhook.model_validate({"status": "firing", "alerts": [{
    "status": "firing", "startsAt": "2026-11-22T04:48:31Z", "endsAt": "0001-01-01T00:00:00Z",
    "labels": {"alertname": "HighErrorRatio", "namespace": "shop", "service": "checkout"},
    "annotations": {"summary": "HighErrorRatio fired"}}]})


async def _one_incident(url: str) -> str:
    engine = make_engine(url)
    try:
        await upgrade(engine)
        async with transaction(make_sessionmaker(engine)) as session:
            result = await ingest_alertmanager(
                session, FIRING, settings=Settings(_env_file=None),  # type: ignore[call-arg]
                now=T0)
        return result.incidents[0].id
    finally:
        await engine.dispose()


def test_show_prints_the_incident_its_signals_and_the_workflow_timeline(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite'}"
    incident_id = asyncio.run(_one_incident(url))
    get_settings.cache_clear()
    try:
        shown = CliRunner().invoke(cli, ["incidents", "show", incident_id], env={
            "WARROOM_HOME": str(tmp_path / "home"), "WARROOM_DATABASE_URL": url})
    finally:
        get_settings.cache_clear()
    assert shown.exit_code == 0, shown.output
    assert f"id {incident_id}" in shown.output and "1 signal(s)" in shown.output
    # the workflow's timeline after the table, one line per event: time, stage, kind, actor
    timeline = [line.split() for line in shown.output.splitlines() if line[:2].isdigit()]
    assert [line[1:3] for line in timeline] == [["signal", "incident.opened"],
                                                 ["signal", "signal.received"]], shown.output
