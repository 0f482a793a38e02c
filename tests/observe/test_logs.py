"""Structured logs: one renderer for structlog and the standard library, ids on every line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
from wfkit import ScriptedDebate, decision_of, post_alert, wait_for

from warroom.config import Settings
from warroom.observe.logs import configure_logging

Configure = Callable[..., io.StringIO]


@pytest.fixture
def configure() -> Iterator[Configure]:
    """Configure logging into a buffer; put the process's logging back afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    touched = [logging.getLogger(name) for name in (
        "uvicorn", "uvicorn.error", "uvicorn.access", "dbos", "sqlalchemy", "httpx", "httpcore",
        "kubernetes_asyncio", "urllib3", "alembic.runtime.plugins")]
    saved = [(lg, lg.level, list(lg.handlers), lg.propagate) for lg in touched]

    def run(**update: Any) -> io.StringIO:
        out = io.StringIO()
        settings = Settings(_env_file=None, **update)  # type: ignore[call-arg]
        configure_logging(settings, stream=out)
        return out

    try:
        yield run
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
        for lg, lg_level, lg_handlers, propagate in saved:
            lg.setLevel(lg_level)
            lg.handlers[:] = lg_handlers
            lg.propagate = propagate
        structlog.reset_defaults()


async def _closed(client: Any, incident_id: str) -> bool:
    timeline = (await client.get(f"/api/v1/incidents/{incident_id}")).json()["timeline"]
    return any(e["kind"] == "workflow.closed" for e in timeline)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def test_library_and_warroom_lines_share_one_json_format(configure: Configure) -> None:
    out = configure(log_format="json")
    with structlog.contextvars.bound_contextvars(incident_id="inc-1"):
        structlog.get_logger("warroom.test").info("workflow.step", step="decide")
        logging.getLogger("uvicorn.error").warning("Started server process %d", 42)
    logging.getLogger("httpx").info("HTTP Request: GET / 200")  # chatty: only at DEBUG
    ours, theirs = lines(out)
    assert ours["event"] == "workflow.step" and ours["step"] == "decide"
    assert ours["level"] == "info" and ours["logger"] == "warroom.test"
    assert theirs["event"] == "Started server process 42"
    assert theirs["level"] == "warning" and theirs["logger"] == "uvicorn.error"
    for line in (ours, theirs):
        assert line["incident_id"] == "inc-1"
        assert line["timestamp"].endswith("Z")


def test_console_format_is_readable_and_the_level_filters(configure: Configure) -> None:
    out = configure(log_format="console", log_level="WARNING")
    structlog.get_logger("warroom.test").info("hidden")
    structlog.get_logger("warroom.test").warning("ingest.database_unavailable", error="down")
    text = out.getvalue()
    assert "hidden" not in text
    assert "ingest.database_unavailable" in text and "error=down" in text
    assert not text.lstrip().startswith("{")


def test_unknown_level_is_refused_by_name(configure: Configure) -> None:
    with pytest.raises(ValueError, match="WARROOM_LOG_LEVEL"):
        configure(log_level="LOUD")


async def test_workflow_lines_carry_the_incident_and_decision(
    configure: Configure, workflow_app: Any
) -> None:
    out = configure(log_format="json")
    async with workflow_app(ScriptedDebate()) as client:
        incident_id = await post_alert(client)
        decision = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                  what="a ready decision")
        await client.post(f"/api/v1/decisions/{decision['token']}/reject",
                          json={"approver": "bob", "comment": "not now"})
        await wait_for(lambda: _closed(client, incident_id), what="the workflow closed")
    found = lines(out)
    debated = [x for x in found if x["event"] == "workflow.debated"]
    assert debated and debated[0]["incident_id"] == incident_id
    closed = [x for x in found if x["event"] == "workflow.closed"]
    assert closed, [x["event"] for x in found]
    assert closed[0]["incident_id"] == incident_id
    assert closed[0]["decision_token"] == decision["token"]
    assert closed[0]["outcome"] == "rejected"
