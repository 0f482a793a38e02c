"""`warroom.cli` wires what a context may not import itself: here, `serve --sandbox`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from warroom.api.app import container_of
from warroom.cli import app as cli
from warroom.config import get_settings


def test_serve_sandbox_embeds_the_simulated_cluster_in_the_app(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve", "--sandbox", "--no-worker", "--port", "18931"],
                                    env={"WARROOM_HOME": str(tmp_path / "home"),
                                         "WARROOM_DATABASE_URL":
                                         f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite'}"})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "sandbox cluster at http://" in result.output
    assert "warroom sandbox inject FAULT" in result.output
    app = served["app"]
    assert "/api/v1/sandbox/faults" in app.openapi()["paths"]
    settings = container_of(app).settings
    assert settings.shadow_mode is False and settings.kubeconfig
