"""`warroom tokens|users` on a SQLite file, and `serve`'s exposure rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from warroom.api.cli import exposure_refusal
from warroom.cli import app as cli
from warroom.config import get_settings


@pytest.fixture
def run(tmp_path: Path) -> Any:
    env = {"WARROOM_HOME": str(tmp_path / "home"),
           "WARROOM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite'}"}

    def invoke(*args: str, **extra: str) -> Any:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(cli, list(args), env={**env, **extra})
        finally:
            get_settings.cache_clear()

    return invoke


def test_tokens_are_created_once_listed_without_the_secret_and_revoked(run: Any) -> None:
    made = run("tokens", "create", "--name", "alice", "--role", "approver", "--days", "30")
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert token.startswith("wr_") and len(token) > 40
    assert "alice (approver)" in made.output
    listed = run("tokens", "list")
    assert listed.exit_code == 0 and "alice" in listed.output and token not in listed.output
    token_id = listed.output.split()[0]
    assert run("users", "list").output.split() == ["alice", "approver"]
    assert run("users", "add", "alice", "--role", "admin").output.strip() == "alice: admin"
    again = run("tokens", "create", "--name", "alice")  # the user exists: no role needed
    assert again.exit_code == 0 and "alice (admin)" in again.output
    assert run("tokens", "revoke", token_id).exit_code == 0
    twice = run("tokens", "revoke", token_id)
    assert twice.exit_code == 2 and "already revoked" in twice.output
    assert token_id not in run("tokens", "list").output
    assert token_id in run("tokens", "list", "--revoked").output
    bad = run("tokens", "create", "--name", "bob", "--role", "root")
    assert bad.exit_code == 2 and "viewer | approver | admin" in bad.output
    unknown = run("tokens", "create", "--name", "bob")
    assert unknown.exit_code == 2 and "give a role" in unknown.output
    assert run("users", "disable", "alice").output.strip() == "alice: disabled"


def test_serve_refuses_a_public_address_while_authentication_is_off(run: Any) -> None:
    refused = run("serve", "--host", "0.0.0.0", "--port", "1", WARROOM_AUTH_ENABLED="false")
    assert refused.exit_code == 2
    assert "WARROOM_AUTH_ENABLED=true" in refused.output and "0.0.0.0" in refused.output
    assert exposure_refusal("127.0.0.1", auth_enabled=False) is None
    assert exposure_refusal("::1", auth_enabled=False) is None
    assert exposure_refusal("0.0.0.0", auth_enabled=True) is None
    assert exposure_refusal("10.1.2.3", auth_enabled=False) is not None
