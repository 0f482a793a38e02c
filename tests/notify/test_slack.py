"""Slack end to end: a real incident's card, signed clicks, the card edited in place."""

from __future__ import annotations

import json
import time
from typing import Any

from chatkit import Chat, ChatFactory
from platforms import Call, slack_click
from wfkit import ScriptedDebate, package, post_alert, wait_for

CLICK = "/api/v1/notify/slack/interactions"
APPROVED = ("approved", "executing", "verifying", "completed")


def _blocks(call: Call) -> list[dict[str, Any]]:
    raw = call.params["blocks"]
    return list(json.loads(raw) if isinstance(raw, str) else raw)


def _text(call: Call) -> str:
    return json.dumps(_blocks(call))


def _has_buttons(call: Call) -> bool:
    return any(b["type"] == "actions" for b in _blocks(call))


async def _card(chat: Chat) -> tuple[Call, str]:
    posted = await wait_for(lambda: _first_card(chat), what="the Slack card")
    token = next(b for b in _blocks(posted) if b["type"] == "actions")["elements"][0]["value"]
    return posted, str(token)


async def _first_card(chat: Chat) -> Call | None:
    cards = [c for c in chat.fake.of("slack", "chat.postMessage") if "blocks" in c.params]
    return cards[0] if cards else None


async def _click(chat: Chat, user: str, token: str, **kw: Any) -> dict[str, Any]:
    body, headers = slack_click(user, token, **kw)
    response = await chat.client.post(CLICK, content=body, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _status(chat: Chat, token: str, *status: str) -> bool:
    body = (await chat.client.get(f"/api/v1/decisions/{token}")).json()
    return bool(body["status"] in status)


async def _resolve_after_execution(chat: Chat, token: str) -> None:
    """Let the alert clear during the warm-up, so verification sees success."""
    await wait_for(lambda: _status(chat, token, *APPROVED), what="the approval")
    await post_alert(chat.client, "resolved")
    await wait_for(lambda: _status(chat, token, "completed"), what="completion")


async def _updates(chat: Chat, needle: str) -> Call | None:
    found = [c for c in chat.fake.of("slack", "chat.update") if needle in _text(c)]
    return found[-1] if found else None


async def _thread(chat: Chat, needle: str) -> Call | None:
    found = [c for c in chat.fake.of("slack", "chat.postMessage")
             if c.params.get("thread_ts") and needle in c.params.get("text", "")]
    return found[-1] if found else None


async def test_an_approvers_click_executes_once_and_the_card_shows_it(
    chat_app: ChatFactory,
) -> None:
    async with chat_app(ScriptedDebate()) as chat:
        await post_alert(chat.client)
        posted, token = await _card(chat)
        text = _text(posted)
        assert posted.params["channel"] == "C_OPS"
        for shown in ("checkout is saturated", "scale shop/deployment/checkout replicas=4",
                      "*Risk:* medium", "Blast radius", "scaling may starve the node",
                      "0 of 1 approvals"):
            assert shown in text, shown

        answer = await _click(chat, "U_ALICE", token, ts=posted.params.get("ts", ""))
        assert answer["ok"] is True
        await _resolve_after_execution(chat, token)
        final = await wait_for(lambda: _updates(chat, "Verified"), what="the verified card")
        assert "approved by alice" in _text(final) and not _has_buttons(final)
        assert await wait_for(lambda: _thread(chat, "Approved by alice"), what="approved note")
        assert await wait_for(lambda: _thread(chat, "Executed: "), what="executed note")
        assert await chat.executions(token) == 1

        again = await _click(chat, "U_ALICE", token)  # a second click does nothing twice
        assert again["ok"] is False and "completed" in again["refused"]
        assert await chat.executions(token) == 1
        assert await chat.approvals(token) == ["alice:approve:chat"]


async def test_a_critical_action_needs_two_distinct_mapped_approvers(
    chat_app: ChatFactory,
) -> None:
    async with chat_app(ScriptedDebate(package(risk="critical"))) as chat:
        await post_alert(chat.client)
        posted, token = await _card(chat)
        assert "0 of 2 approvals" in _text(posted)

        await _click(chat, "U_ALICE", token)
        one = await wait_for(lambda: _updates(chat, "1 of 2 approvals"), what="1 of 2 approvals")
        assert _has_buttons(one)  # still live: one more person must approve
        twice = await _click(chat, "U_ALICE", token)
        assert twice["ok"] is False and "already answered" in twice["refused"]
        assert await _status(chat, token, "ready") and await chat.executions(token) == 0

        await _click(chat, "U_BOB", token)
        await _resolve_after_execution(chat, token)
        final = await wait_for(lambda: _updates(chat, "Verified"), what="the verified card")
        assert "approved by alice, bob" in _text(final) and not _has_buttons(final)
        assert await chat.executions(token) == 1


async def test_hostile_clicks_are_refused_and_nothing_executes(chat_app: ChatFactory) -> None:
    async with chat_app(ScriptedDebate()) as chat:
        await post_alert(chat.client)
        _, token = await _card(chat)

        body, headers = slack_click("U_ALICE", token, secret="not-the-signing-secret")
        assert (await chat.client.post(CLICK, content=body, headers=headers)).status_code == 401
        body, headers = slack_click("U_ALICE", token, at=int(time.time()) - 600)  # stale
        assert (await chat.client.post(CLICK, content=body, headers=headers)).status_code == 401
        body, headers = slack_click("U_ALICE", token)
        tampered = body.replace(b"approve", b"reject")
        assert (await chat.client.post(CLICK, content=tampered,
                                       headers=headers)).status_code == 401

        for user, why in (("U_STRANGER", "not mapped"), ("U_VICTOR", "role viewer"),
                          ("U_GHOST", "no user 'ghost'")):
            refused = await _click(chat, user, token)
            assert refused["ok"] is False and why in refused["refused"], refused
            assert await wait_for(lambda u=user: _thread(chat, f"<@{u}> refused"),
                                  what=f"the refusal of {user} in the thread")

        body, headers = slack_click("U_BOB", token, verdict="reject")
        first = await chat.client.post(CLICK, content=body, headers=headers)
        replay = await chat.client.post(CLICK, content=body, headers=headers)
        assert first.status_code == 200 and replay.status_code == 409
        await wait_for(lambda: _status(chat, token, "rejected"), what="the rejection")
        rejected = await wait_for(lambda: _updates(chat, "rejected by bob"), what="dead card")
        assert not _has_buttons(rejected)
        assert await chat.approvals(token) == ["bob:reject:chat"]
        assert await chat.executions(token) == 0


async def test_a_click_on_an_expired_decision_is_refused(chat_app: ChatFactory) -> None:
    async with chat_app(ScriptedDebate(), approval_timeout_seconds=0.5) as chat:
        await post_alert(chat.client)
        _, token = await _card(chat)
        await wait_for(lambda: _status(chat, token, "expired"), what="expiry")
        expired = await wait_for(lambda: _updates(chat, "expired"), what="the expired card")
        assert not _has_buttons(expired)
        assert await wait_for(lambda: _thread(chat, "Decision expired"), what="expiry note")
        refused = await _click(chat, "U_ALICE", token)
        assert refused["ok"] is False and "expired" in refused["refused"]
        assert await chat.approvals(token) == [] and await chat.executions(token) == 0


async def test_a_failed_verification_is_said_in_the_thread_and_on_the_card(
    chat_app: ChatFactory,
) -> None:
    async with chat_app(ScriptedDebate(), verify_warmup_seconds=0.05) as chat:
        await post_alert(chat.client)  # never resolved: verification scores under 0.5
        _, token = await _card(chat)
        await _click(chat, "U_ALICE", token)
        await wait_for(lambda: _status(chat, token, "failed"), what="the failed verification")
        note = await wait_for(lambda: _thread(chat, "Failed: "), what="the failed note")
        assert "self-healing score" in note.params["text"]
        card = await wait_for(lambda: _updates(chat, "Verified"), what="the failed card")
        assert "failed" in _text(card) and not _has_buttons(card)
        assert await chat.executions(token) == 1
