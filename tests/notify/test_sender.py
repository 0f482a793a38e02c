"""The outbox and its sender: routing, retries with backoff, the audit trail, webhook signing."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))

from platforms import WEBHOOK_SECRET, running_platforms  # noqa: E402
from webkit import Web, firing, package, post_incident, seed_decision, web_app  # noqa: E402

from warroom.config import Settings  # noqa: E402
from warroom.decisions import repository as decisions_repository  # noqa: E402
from warroom.decisions import service as decisions  # noqa: E402
from warroom.decisions.policy import PolicyVerdict  # noqa: E402
from warroom.i18n.service import activate  # noqa: E402
from warroom.notify import webhook  # noqa: E402
from warroom.notify.models import ChatEvent, MessageRef  # noqa: E402
from warroom.notify.sender import Sender  # noqa: E402
from warroom.notify.service import destinations  # noqa: E402
from warroom.notify.webhook import WebhookAdapter  # noqa: E402
from warroom.store import audit  # noqa: E402
from warroom.store.db import transaction  # noqa: E402
from warroom.store.tables import Incident, NotifyDelivery, NotifyOutbox  # noqa: E402


class Recorder:
    """A chat adapter that records cards and notes, and fails while told to."""

    platform = "slack"
    threaded = True

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.shown: list[tuple[str, ChatEvent, MessageRef | None]] = []
        self.told: list[str] = []

    async def show(self, target: str, event: ChatEvent, ref: MessageRef | None) -> MessageRef:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("slack is down")
        self.shown.append((target, event, ref))
        return ref or MessageRef(channel=target, ts=f"1.{len(self.shown)}")

    async def tell(self, target: str, ref: MessageRef, text: str) -> None:
        self.told.append(text)

    async def aclose(self) -> None:
        return None


def _settings(base: Settings, **update: Any) -> Settings:
    values: dict[str, Any] = {
        "notify_routes": [{"to": "slack:C_SHOP", "namespaces": ["shop"]},
                          {"to": "slack:C_PAGE", "priorities": ["P0"]}],
        "notify_slack_bot_token": "xoxb-x", "notify_retry_base_seconds": 10.0,
        "notify_retry_max_seconds": 25.0, "notify_max_attempts": 3,
    }
    return Settings.model_validate({**base.model_dump(), **values, **update})


def test_routes_match_namespace_and_priority(settings: Settings) -> None:
    s = _settings(settings)
    assert destinations(s, namespace="shop", priority="P2") == ["slack:C_SHOP"]
    assert destinations(s, namespace="shop", priority="P0") == ["slack:C_SHOP", "slack:C_PAGE"]
    assert destinations(s, namespace="billing", priority="P3") == []


def test_a_route_without_credentials_is_refused_naming_the_setting(settings: Settings) -> None:
    with pytest.raises(ValueError, match="notify_routes\\[0\\].*WARROOM_NOTIFY_TELEGRAM_BOT"):
        _settings(settings, notify_routes=[{"to": "telegram:-1"}])
    with pytest.raises(ValueError, match="named 'ops'"):
        _settings(settings, notify_routes=[{"to": "webhook:ops"}])


async def _ready_decision(web: Web, fixtures_dir: Path) -> str:
    incident_id = await post_incident(web, firing(fixtures_dir))
    return await seed_decision(web, incident_id, package(risk="critical"))


async def _kinds(web: Web, kind: str) -> list[dict[str, Any]]:
    async with web.sessions() as session:
        return [dict(e.payload) for e in await audit.list_events(session, kind=kind)]


async def test_a_failing_platform_is_retried_with_backoff_then_given_up_on(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    s = _settings(settings)
    async with web_app(s, engine) as web:
        token = await _ready_decision(web, fixtures_dir)
        recorder = Recorder(failures=1)
        sender = Sender(web.sessions, s, {"slack": recorder})
        start = datetime.now(UTC)
        assert await sender.drain(now=start) == 0  # down: nothing sent, nothing raised
        [failed] = await _kinds(web, "notify.failed")
        assert failed["destination"] == "slack:C_SHOP" and failed["retry_in_seconds"] == 10.0
        assert await sender.drain(now=start + timedelta(seconds=5)) == 0  # still backing off
        assert await sender.drain(now=start + timedelta(seconds=11)) == 1
        [sent] = await _kinds(web, "notify.sent")
        assert sent["attempt"] == 2 and sent["event"] == "ready"
        [(target, event, ref)] = recorder.shown
        assert target == "C_SHOP" and ref is None and event.card.token == token
        assert event.card.live and event.card.approval_count == "0 of 2 approvals"

        recorder.failures = 10  # down for good: given up after notify_max_attempts
        async with transaction(web.sessions) as session:
            decision = await decisions_repository.get(session, token)
            assert decision is not None
            await decisions.transition(session, decision, "expired",
                                       payload={"reason": "nobody answered"})
        for minutes in (0, 1, 2, 3):
            await sender.drain(now=datetime.now(UTC) + timedelta(minutes=minutes))
        failures = await _kinds(web, "notify.failed")
        assert [f["gave_up"] for f in failures] == [False, False, False, True]
        async with web.sessions() as session:
            rows = (await session.execute(select(NotifyDelivery))).scalars().all()
            entries = (await session.execute(select(NotifyOutbox))).scalars().all()
        assert sorted(r.status for r in rows) == ["failed", "sent"]
        assert {e.status for e in entries} == {"done"}


async def test_later_changes_edit_the_card_and_a_rollback_gets_its_own(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    s = _settings(settings)
    async with web_app(s, engine) as web:
        token = await _ready_decision(web, fixtures_dir)
        recorder = Recorder()
        sender = Sender(web.sessions, s, {"slack": recorder})
        await sender.drain()
        async with transaction(web.sessions) as session:
            decision = await decisions_repository.get(session, token)
            assert decision is not None
            await decisions.transition(session, decision, "expired",
                                       payload={"reason": "nobody answered"})
            proposal, _ = await decisions.open_decision(
                session, incident_id=decision.incident_id, workflow_id="wf-rollback",
                parent_token=token)
            await decisions.mark_ready(
                session, proposal, package(risk="medium"), settings=s,
                policy=PolicyVerdict(auto_execute=False, executable=True, requires_approvals=1,
                                     reasons=["a rollback proposal always needs a human"]))
        await sender.drain()
    cards = [(e.card.token, e.card.headline, ref) for _, e, ref in recorder.shown]
    assert cards[0] == (token, "Decision ready", None)
    assert cards[1][:2] == (token, "Decision expired") and cards[1][2] is not None  # in place
    assert not recorder.shown[1][1].card.live
    assert cards[2][1] == f"Rollback proposed (undoes {token})" and cards[2][2] is None
    assert recorder.told == ["Decision expired: nobody answered"]


async def test_an_aborted_change_owes_no_notification(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    async with web_app(_settings(settings), engine) as web:
        token = await _ready_decision(web, fixtures_dir)
        with pytest.raises(RuntimeError):
            async with transaction(web.sessions) as session:
                decision = await decisions_repository.get(session, token)
                assert decision is not None
                await decisions.transition(session, decision, "expired")
                raise RuntimeError("the step crashed before committing")
        async with web.sessions() as session:
            events = (await session.execute(select(NotifyOutbox.event))).scalars().all()
    assert list(events) == ["ready"]


async def test_webhook_events_are_signed_so_a_receiver_can_check_them(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    async with running_platforms() as fake:
        s = _settings(settings, notify_routes=[{"to": "webhook:ops"}], notify_webhooks={
            "ops": {"url": f"{fake.url}/hook", "secret": WEBHOOK_SECRET}})
        async with web_app(s, engine) as web:
            token = await _ready_decision(web, fixtures_dir)
            adapter = WebhookAdapter(f"{fake.url}/hook", WEBHOOK_SECRET, timeout=5)
            try:
                assert await Sender(web.sessions, s, {"webhook:ops": adapter}).drain() == 1
            finally:
                await adapter.aclose()
    [call] = fake.of("webhook")
    assert call.params["event"] == "ready" and call.params["decision"]["token"] == token
    stamp, signature = call.headers["x-warroom-timestamp"], call.headers["x-warroom-signature"]
    assert webhook.verify(WEBHOOK_SECRET, stamp, call.body, signature)
    assert not webhook.verify("another-secret-0123", stamp, call.body, signature)
    assert not webhook.verify(WEBHOOK_SECRET, stamp, call.body + b" ", signature)
    assert not webhook.verify(WEBHOOK_SECRET, stamp, call.body, signature,
                              now=time.time() + 3600)


async def test_a_platform_that_is_down_never_holds_the_workflow_up(chat_app: Any) -> None:
    from wfkit import ScriptedDebate, decision_of, post_alert, wait_for

    async with chat_app(ScriptedDebate(), verify_warmup_seconds=0.05) as chat:
        chat.fake.fail("slack", 10_000)
        incident_id = await post_alert(chat.client)
        ready = await wait_for(lambda: decision_of(chat.client, incident_id, "ready"),
                               what="a ready decision")
        answer = await chat.client.post(f"/api/v1/decisions/{ready['token']}/approve",
                                        json={})  # as the client's own alice
        assert answer.status_code == 200
        await wait_for(lambda: decision_of(chat.client, incident_id, "failed"), what="the end")

        async def failures() -> list[Any]:
            async with chat.sessions() as session:
                return [e for e in await audit.list_events(session, kind="notify.failed")
                        if e.payload["destination"] == "slack:C_OPS"]

        assert await wait_for(failures, what="slack failures in the audit trail")
        assert chat.fake.of("telegram", "sendMessage"), "the other platforms still get cards"
        assert not chat.fake.of("slack")
        assert await chat.executions(ready["token"]) == 1


async def test_a_card_reads_in_the_configured_language_and_time_zone(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    async with running_platforms() as fake:
        s = _settings(settings, notify_routes=[{"to": "webhook:ops"}], notify_webhooks={
            "ops": {"url": f"{fake.url}/hook", "secret": WEBHOOK_SECRET}},
            language="zh-TW", timezone="Asia/Taipei")
        async with web_app(s, engine) as web:
            token = await _ready_decision(web, fixtures_dir)
            async with web.sessions() as session:
                view = await decisions.get_view(session, token)
                opened = (await session.get(Incident, view.incident_id)).opened_at
            adapter = WebhookAdapter(f"{fake.url}/hook", WEBHOOK_SECRET, timeout=5)
            try:
                assert await Sender(web.sessions, s, {"webhook:ops": adapter}).drain() == 1
            finally:
                await adapter.aclose()
                activate("en")
    [call] = fake.of("webhook")
    card = call.params["decision"]
    assert card["headline"] == "決策已就緒"
    taipei = (opened if opened.tzinfo else opened.replace(tzinfo=UTC)) + timedelta(hours=8)
    assert card["opened"] == f"{taipei:%Y-%m-%d %H:%M} (UTC+08:00)"
    assert card["answer_by"].endswith("(UTC+08:00)")
    assert call.params["event"] == "ready" and card["token"] == token
