"""The stats page in headless Chromium: it renders, its charts have size, no script fails.

Screenshots (light and dark) are kept as a test artifact under `test-artifacts/stats/` (or
`$WARROOM_TEST_ARTIFACTS/stats/`) for a person to look at.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).parents[1] / "workflow"))
sys.path.insert(0, str(Path(__file__).parents[1] / "stats"))

from statskit import drive, stats_app, trust_playbook  # noqa: E402
from wfkit import ScriptedDebate, wf_settings, workflow_app  # noqa: E402

from warroom.access.models import Role  # noqa: E402
from warroom.api.app import (
    container_of,
    create_app,  # noqa: E402
)
from warroom.bench.processes import free_port  # noqa: E402
from warroom.config import Settings  # noqa: E402
from warroom.stats.models import StatsReport, seconds_text  # noqa: E402

__all__ = ["stats_app", "wf_settings", "workflow_app"]
pytestmark = pytest.mark.integration
ARTIFACTS = Path(os.environ.get("WARROOM_TEST_ARTIFACTS")
                 or Path(__file__).parents[2] / "test-artifacts") / "stats"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


async def _serve(settings: Settings, engine: AsyncEngine) -> tuple[uvicorn.Server, Any, int]:
    app = create_app(settings, engine=engine)
    container_of(app).lifespan_hooks.clear()  # the page only reads: no worker
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=2))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            return server, task, port
        await asyncio.sleep(0.02)
    raise AssertionError("the dashboard server did not start")


async def test_stats_page_renders_in_chromium_without_script_errors(
    stats_app: Any, engine: AsyncEngine, wf_settings: Settings, chromium_binary: str,
) -> None:
    from playwright.async_api import async_playwright

    await trust_playbook(engine)
    debate = ScriptedDebate()
    async with stats_app(debate, auto_execute_namespaces=["shop"]) as client:
        await drive(client, debate)
        report = StatsReport.model_validate(
            (await client.get("/api/v1/stats", params={"days": 1})).json())
        # the dashboard sits behind the access gate: the browser sends a viewer's token
        token = await client.token_for("stats-viewer", Role.viewer)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server, task, port = await _serve(wf_settings, engine)
    errors: list[str] = []
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_binary,
                                               args=BROWSER_ARGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 1000},
                                          extra_http_headers={"Authorization": f"Bearer {token}"})
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}")
                    if msg.type == "error" and "Failed to load resource" not in msg.text
                    else None)
            # the browser asks for /favicon.ico on its own; any other missing resource fails
            page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
            response = await page.goto(f"http://127.0.0.1:{port}/stats?days=1")
            assert response is not None and response.status == 200
            await page.wait_for_load_state("load")
            await page.screenshot(path=str(ARTIFACTS / "stats-light.png"), full_page=True)
            charts = await page.eval_on_selector_all(
                "svg.chart", "els => els.map(e => [e.getBoundingClientRect().width, "
                "e.getBoundingClientRect().height, e.querySelectorAll('rect,circle').length])")
            shown = await page.text_content('[data-figure="recovery.p50"]')
            nav = await page.get_attribute('nav a[href="/stats"]', "aria-current")
            await page.emulate_media(color_scheme="dark")
            await page.reload()
            await page.wait_for_load_state("load")
            await page.screenshot(path=str(ARTIFACTS / "stats-dark.png"), full_page=True)
            await browser.close()
    finally:
        server.should_exit = True
        await task

    assert errors == []
    assert len(charts) >= 5
    assert all(width > 300 and height > 20 and marks > 0 for width, height, marks in charts)
    assert shown == seconds_text(report.resolution.get("recovery").current.p50)
    assert nav == "page"
    assert (ARTIFACTS / "stats-light.png").stat().st_size > 10_000
