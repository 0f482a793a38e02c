from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from warroom.cli import app
from warroom.config import Settings
from warroom.sandbox.runtime import SandboxRuntime
from warroom.sandbox.sim import Sandbox
from warroom.scenarios.models import Scenario

runner = CliRunner()


def test_record_writes_a_scenario(tmp_path: Path) -> None:
    out = tmp_path / "leak.json"
    result = runner.invoke(app, ["sandbox", "record", "--fault", "memory_leak",
                                 "--difficulty", "3", "--out", str(out), "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "root cause shop/checkout memory_leak" in result.output
    scenario = Scenario.model_validate(json.loads(out.read_text()))
    assert scenario.id == "sandbox-memory-leak-d3-s4"


def test_record_names_a_bad_fault(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sandbox", "record", "--fault", "gremlins",
                                 "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 2 and "unknown fault 'gremlins'" in result.output


async def test_inject_and_list_faults_in_a_running_sandbox(tmp_path: Path) -> None:
    async with SandboxRuntime(Settings(home=tmp_path), webhook_url="", sandbox=Sandbox(seed=2),
                              clock=False) as running:
        injected = await asyncio.to_thread(runner.invoke, app, [
            "sandbox", "inject", "bad_deploy", "--service", "cart", "--url", running.url])
        assert injected.exit_code == 0, injected.output
        assert "into shop/deployment/cart" in injected.output
        listed = await asyncio.to_thread(runner.invoke, app, [
            "sandbox", "faults", "--url", running.url, "--json"])
        assert [f["service"] for f in json.loads(listed.output)] == ["cart"]
        refused = await asyncio.to_thread(runner.invoke, app, [
            "sandbox", "inject", "bad_deploy", "--service", "orders-db", "--url", running.url])
        assert refused.exit_code == 2 and "StatefulSet" in refused.output
