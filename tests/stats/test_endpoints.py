"""The stats API, the CLI and the dashboard over incidents driven through the real workflow."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine
from statskit import drive, trust_playbook
from typer.testing import CliRunner
from wfkit import ScriptedDebate

from warroom.cli import app as cli_app
from warroom.config import get_settings
from warroom.stats.cli import print_report
from warroom.stats.models import StatsReport, seconds_text, usd_text
from warroom.store.db import make_sessionmaker
from warroom.store.tables import LLMTurnRow


def _figures(html: str) -> dict[str, str]:
    found = re.findall(r'data-figure="([^"]+)">([^<]*)<', html)
    return {key: value.strip() for key, value in found}


def _rows(text: str) -> dict[str, list[str]]:
    """The rows of the Rich tables in `text`, by their first cell."""
    return {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in text.replace("┃", "│").splitlines() if line.count("│") >= 3}


def _cli_text(report: StatsReport) -> str:
    console = Console(record=True, width=200)
    print_report(report, console)
    return console.export_text()


async def test_api_cli_and_dashboard_agree(
    stats_app: Any, engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await trust_playbook(engine)
    debate = ScriptedDebate()
    async with stats_app(debate, auto_execute_namespaces=["shop"]) as client:
        driven = await drive(client, debate)
        await _model_turns(engine, driven.incidents["checkout"], driven.incidents["cart"])
        api = (await client.get("/api/v1/stats", params={"days": 1})).json()
        parts = {name: (await client.get(f"/api/v1/stats/{name}", params={"days": 1})).json()
                 for name in ("incidents", "resolution", "ai", "services", "playbooks")}
        page = await client.get("/stats", params={"days": 1})
        scoped = (await client.get("/api/v1/stats/incidents",
                                   params={"days": 1, "namespace": "shop",
                                           "service": "cart"})).json()
    report = StatsReport.model_validate(api)

    # the API tells what the workflow did
    outcomes = {c.key: c.count for c in report.ai.outcomes}
    assert outcomes == {"approved": 1, "rejected": 1, "auto_executed": 1}
    assert report.incidents.total == 3
    assert {c.key: c.count for c in report.incidents.by_status} == {"resolved": 2, "open": 1}
    assert {c.key: c.count for c in report.incidents.by_fault} == {
        "traffic_surge": 2, "memory_leak": 1}
    recovery = report.resolution.get("recovery").current
    assert recovery.count == 2 and recovery.p50 is not None and recovery.max is not None
    assert 55 < recovery.p50 < recovery.max  # cart opened 60 s before it resolved, checkout 120 s
    assert report.resolution.get("acknowledge").current.count == 3
    assert report.resolution.get("execution").current.count == 2
    assert report.ai.human_rejections == 1 and report.ai.overrides == 1
    assert report.ai.challenges == 2  # one challenge per verified decision (the scripted critic)
    assert [(a.name, a.turns) for a in report.ai.agents] == [("diagnostician", 3)]
    assert [(a.name, a.turns) for a in report.ai.backends] == [("rules", 3)]
    services = {f"{s.namespace}/{s.service}": s.incidents for s in report.services.by_count}
    assert services == {"shop/checkout": 1, "shop/cart": 1, "shop/search": 1}
    assert scoped["total"] == 1 and driven.incidents["cart"]
    usage = {u.name: (u.turns, u.input_tokens, u.output_tokens) for u in report.ai.usage_by_agent}
    assert usage == {"diagnostician": (2, 3000, 500), "critic": (1, 900, 100)}
    assert {u.name: u.turns for u in report.ai.usage_by_model} == {
        "gpt-4o-mini": 2, "claude-3-5-haiku": 1}
    assert report.ai.tokens == 4500 and abs(report.ai.cost_usd - 0.00315) < 1e-9
    roots = {f"{r.namespace}/{r.service}": (r.incidents, r.silent)
             for r in report.services.root_candidates}
    assert roots == {"shop/checkout": (1, 0), "shop/cart": (1, 0), "shop/search": (1, 0)}
    # each endpoint answers what the combined one does
    for name in ("incidents", "ai", "playbooks"):
        mine = {k: v for k, v in parts[name].items() if k != "range"}
        assert mine == {k: v for k, v in api[name].items() if k != "range"}, name
    assert parts["resolution"]["durations"] == api["resolution"]["durations"]
    assert parts["services"]["by_count"] == api["services"]["by_count"] or all(
        a["incidents"] == b["incidents"] for a, b in zip(
            parts["services"]["by_count"], api["services"]["by_count"], strict=True))

    # the dashboard shows the same figures
    assert page.status_code == 200
    shown = _figures(page.text)
    for name in ("recovery", "acknowledge", "decision_ready", "execution"):
        d = report.resolution.get(name).current
        assert shown[f"{name}.count"] == str(d.count)
        for stat in ("p50", "p95", "max"):
            assert shown[f"{name}.{stat}"] == seconds_text(getattr(d, stat)), (name, stat)
    for key, count in outcomes.items():
        assert shown[f"outcome.{key}"] == str(count)
    for key, count in services.items():
        assert shown[f"service.{key}"] == str(count)
    assert shown["incidents.total"] == "3" and shown["ai.overrides"] == "1"
    assert shown["ai.tokens"] == str(report.ai.tokens)
    assert shown["ai.cost"] == usd_text(report.ai.cost_usd)
    for kind, rows_ in (("agent", report.ai.usage_by_agent), ("model", report.ai.usage_by_model)):
        for u in rows_:
            assert shown[f"usage.{kind}.{u.name}.input"] == str(u.input_tokens)
            assert shown[f"usage.{kind}.{u.name}.output"] == str(u.output_tokens)
            assert shown[f"usage.{kind}.{u.name}.cost"] == usd_text(u.cost_usd)
    for key, (count, silent) in roots.items():
        assert shown[f"root.{key}"] == str(count) and shown[f"root.{key}.silent"] == str(silent)
    assert page.text.count("<svg") >= 4 and "No data in this range" not in page.text

    # and so does `warroom stats`: the real command on SQLite, its rendering everywhere
    if database_url.startswith("sqlite"):
        monkeypatch.setenv("WARROOM_DATABASE_URL", database_url)
        get_settings.cache_clear()
        try:
            result = await asyncio.to_thread(  # the command runs its own event loop
                CliRunner().invoke, cli_app, ["stats", "--days", "1"], env={"COLUMNS": "200"})
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        text = result.output
    else:
        text = _cli_text(report)
    rows = _rows(text)
    assert rows["recovery"][:4] == [str(recovery.count), seconds_text(recovery.p50),
                                    seconds_text(recovery.p95), seconds_text(recovery.max)]
    for key, count in outcomes.items():
        assert rows[key.replace("_", " ")] == [str(count)]
    for key, count in services.items():
        assert rows[key][0] == str(count)
    usage_text, by_model_text = text.split("Model tokens and cost")[1:3]
    assert f"{report.ai.tokens} tokens, {usd_text(report.ai.cost_usd)}" in usage_text
    for part, rows_ in ((usage_text, report.ai.usage_by_agent),
                        (by_model_text, report.ai.usage_by_model)):
        for u in rows_:
            assert _rows(part)[u.name] == [str(u.turns), str(u.cached), str(u.input_tokens),
                                           str(u.output_tokens), usd_text(u.cost_usd)]
    root_rows = _rows(text.split("Root candidates")[1].split("Playbook trust")[0])
    assert root_rows == {"root candidate": ["incidents", "without an alert of its own"]} | {
        key: [str(count), str(silent)] for key, (count, silent) in roots.items()}


async def _model_turns(engine: AsyncEngine, checkout: str, cart: str) -> None:
    """Store the usage of three language-model turns, as a hybrid debate would have."""
    now = datetime.now(UTC)
    turns = ((checkout, "diagnostician", "gpt-4o-mini", 1000, 200, 0.00027),
             (cart, "diagnostician", "gpt-4o-mini", 2000, 300, 0.00048),
             (checkout, "critic", "claude-3-5-haiku", 900, 100, 0.0024))
    async with make_sessionmaker(engine)() as session, session.begin():
        session.add_all([LLMTurnRow(
            incident_id=iid, session_id=f"s-{iid}", role=role, mode="hybrid",
            status="accepted", reason="", model=model, cached=False, input_tokens=tin,
            output_tokens=tout, cost_usd=cost, latency_ms=800.0, at=now)
            for iid, role, model, tin, tout, cost in turns])


async def test_bad_range_is_refused_naming_the_parameter(stats_app: Any) -> None:
    async with stats_app(ScriptedDebate()) as client:
        backwards = await client.get("/api/v1/stats/incidents",
                                     params={"since": "2026-12-02T00:00:00Z",
                                             "until": "2026-12-01T00:00:00Z"})
        negative = await client.get("/api/v1/stats/resolution", params={"days": -1})
        page = await client.get("/stats", params={"since": "2026-12-02T00:00:00Z",
                                                  "until": "2026-12-01T00:00:00Z"})
    assert backwards.status_code == 422
    assert "since" in backwards.json()["detail"] and "before until" in backwards.json()["detail"]
    assert negative.status_code == 422 and "days" in negative.text
    assert page.status_code == 422 and "must be before until" in page.text
