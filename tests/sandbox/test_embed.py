"""warroom served on the sandbox, end to end: alert, incident, decision, approval, rollback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from warroom.config import Settings
from warroom.sandbox.demo import demo_settings, embedded, run_demo

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_an_approved_rollback_fixes_a_bad_deploy(tmp_path: Path) -> None:
    settings = demo_settings(Settings(), tmp_path, 0, 1.0)
    async with embedded(settings) as (url, runtime, credentials), httpx.AsyncClient(
            base_url=url, timeout=15, headers=credentials.admin_headers) as http:
        assert runtime.settings.kubeconfig.endswith("sandbox-kubeconfig.yaml")
        injected = await http.post("/api/v1/sandbox/faults", json={"fault": "bad_deploy"})
        assert injected.status_code == 201
        assert injected.json()["target"] == "shop/deployment/checkout"
        assert [f["fault"] for f in (await http.get("/api/v1/sandbox/faults")).json()[
            "faults"]] == ["bad_deploy"]
        token = None
        for _ in range(240):
            await asyncio.sleep(0.25)
            incidents = (await http.get("/api/v1/incidents", params={
                "service": "checkout"})).json()["items"]
            if incidents:
                detail = (await http.get(f"/api/v1/incidents/{incidents[0]['id']}")).json()
                decision = detail.get("decision") or {}
                if decision.get("status") == "ready":
                    token = decision["token"]
                    break
        assert token, "no decision waited for approval"
        view = (await http.get(f"/api/v1/decisions/{token}")).json()
        assert view["package"]["action"]["type"] == "rollout_undo"
        assert view["executions"] == []  # nothing runs before a human says so
        approved = await http.post(f"/api/v1/decisions/{token}/approve",
                                   json={"approver": "alice"})
        assert approved.status_code == 200, approved.text
        for _ in range(240):
            await asyncio.sleep(0.25)
            view = (await http.get(f"/api/v1/decisions/{token}")).json()
            if view["status"] in ("completed", "failed"):
                break
        assert view["executions"][0]["executor"] == "kubernetes"
        assert view["executions"][0]["status"] == "succeeded"
        deployment = runtime.sandbox.store.get("Deployment", "checkout", "shop")
        assert deployment is not None
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.endswith("checkout:1.42.0")
        assert view["verifications"][0]["verdict"] == "success", view["verifications"]
        assert view["status"] == "completed"


async def test_the_headless_demo_runs_a_fault_to_the_end(tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    runs = await run_demo(Settings(), faults=1, auto_approve=True, headless=True,
                          console=console, home=tmp_path, fault_timeout=60)
    [run] = runs
    assert run.complete, console.export_text()
    assert run.diagnosis.startswith("checkout bad_deploy")
    assert run.action == "rollout_undo shop/deployment/checkout"
    assert run.verification.startswith("success")
    text = console.export_text()
    assert "kubectl -n shop rollout undo deployment/checkout" in text
    assert "warroom demo" in text  # the summary table
