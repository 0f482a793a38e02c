"""A real Alertmanager notifies a real `warroom serve`: one incident opens, then resolves."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.services import alertmanager, log_tail
from warroom.bench import processes
from warroom.ingest.normalize import fingerprint

pytestmark = pytest.mark.integration

LABELS = {
    "alertname": "HighErrorRate",
    "namespace": "shop",
    "service": "checkout",
    "severity": "critical",  # the default severity map makes this P1
    "job": "checkout",
    "instance": "checkout.shop.svc:8080",
}
ANNOTATIONS = {"summary": "Error ratio high on checkout", "description": "error ratio is 0.42"}
GENERATOR = "http://prometheus.test:9090/graph?g0.expr=service%3Aerrors%3Aratio_rate1m+%3E+0.05"


def route_to(webhook: str, token: str) -> str:
    """An Alertmanager config that sends every group to warroom, fast, resolutions included,
    with warroom's token in `http_config` as docs/alertmanager.md shows."""
    return f"""
route:
  receiver: warroom
  group_by: [namespace, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: warroom
    webhook_configs:
      - url: {webhook}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


def wait_for(what: str, probe: Callable[[], Any], logs: list[Path], timeout: float = 20.0) -> Any:
    """Poll `probe` until it returns something truthy; fail with the service logs otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    tails = "\n".join(f"--- {log.name}\n{log_tail(log)}" for log in logs)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s\n{tails}", pytrace=False)


@pytest.fixture
def warroom_url(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`warroom serve --no-worker` in its own process, on a fresh SQLite file; and a token."""
    port = processes.free_port()
    database = f"sqlite+aiosqlite:///{tmp_path / 'warroom.sqlite'}"
    env = {"WARROOM_HOME": str(tmp_path / "home"), "WARROOM_DATABASE_URL": database}
    token = processes.mint_token(database, name="alertmanager", role="viewer")
    server = processes.start_warroom(port, env, tmp_path / "warroom.log", ("--no-worker",))
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        processes.stop(server)


def am_metric(client: httpx.Client, am: str, name: str) -> float:
    """Sum one Alertmanager counter over its webhook-integration series."""
    total = 0.0
    for line in client.get(f"{am}/metrics").text.splitlines():
        if line.startswith(name + "{") and 'integration="webhook"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_alertmanager_webhooks_open_and_resolve_one_incident(
    alertmanager_binary: str, warroom_url: tuple[str, str], tmp_path: Path
) -> None:
    logs = [tmp_path / "alertmanager.log", tmp_path / "warroom.log"]
    warroom_url, token = warroom_url
    webhook = f"{warroom_url}/api/v1/alerts/alertmanager"
    with alertmanager(alertmanager_binary, tmp_path, route_to(webhook, token)) as am, \
            httpx.Client(timeout=5.0, headers={"Authorization": f"Bearer {token}"}) as client:
        started = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
        alert = {
            "labels": LABELS,
            "annotations": ANNOTATIONS,
            "startsAt": started.isoformat(),
            "generatorURL": GENERATOR,
        }
        assert client.post(f"{am}/api/v2/alerts", json=[alert]).status_code == 200
        incidents = f"{warroom_url}/api/v1/incidents"

        def opened() -> list[dict[str, Any]]:
            return list(client.get(incidents, params={"namespace": "shop"}).json()["items"])

        (incident,) = wait_for("an incident from Alertmanager's firing webhook", opened, logs)
        assert incident["status"] == "open"
        assert (incident["namespace"], incident["service"]) == ("shop", "checkout")
        assert incident["priority"] == "P1"
        assert incident["title"] == ANNOTATIONS["summary"]

        # the signal carries Alertmanager's own fingerprint, which ours reproduces
        (held,) = client.get(f"{am}/api/v2/alerts").json()
        detail = client.get(f"{incidents}/{incident['id']}").json()
        (signal,) = detail["signals"]
        assert signal["fingerprint"] == held["fingerprint"] == fingerprint(LABELS)
        assert signal["status"] == "firing"
        assert signal["source"] == "alertmanager"
        assert signal["labels"] == LABELS
        assert signal["annotations"] == ANNOTATIONS
        assert signal["generator_url"] == GENERATOR
        assert datetime.fromisoformat(signal["starts_at"]) == started

        ended = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
        resolve = {**alert, "endsAt": ended.isoformat()}
        assert client.post(f"{am}/api/v2/alerts", json=[resolve]).status_code == 200

        def resolved() -> dict[str, Any] | None:
            body: dict[str, Any] = client.get(f"{incidents}/{incident['id']}").json()
            return body if body["status"] == "resolved" else None

        detail = wait_for("the incident resolving from the resolved webhook", resolved, logs)
        (signal,) = detail["signals"]
        assert signal["status"] == "resolved"
        assert datetime.fromisoformat(signal["ends_at"]) == ended
        assert detail["resolved_at"] is not None
        page = client.get(incidents).json()
        assert page["total"] == 1, page  # the resolution did not open a second incident

        # every notification Alertmanager sent was accepted: none failed, none retried
        sent = am_metric(client, am, "alertmanager_notifications_total")
        failed = am_metric(client, am, "alertmanager_notifications_failed_total")
        assert sent >= 2 and failed == 0, (sent, failed, log_tail(logs[0]))
