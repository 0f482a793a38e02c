"""Telegram end to end: a real incident's card, button presses, the card edited in place."""

from __future__ import annotations

import json
from typing import Any

from chatkit import CHAT, Chat, ChatFactory
from platforms import TELEGRAM_SECRET, Call, telegram_click
from wfkit import ScriptedDebate, package, post_alert, wait_for

from warroom.access.models import Role

HOOK = "/api/v1/notify/telegram/webhook"
APPROVED = ("approved", "executing", "verifying", "completed")


def _buttons(call: Call) -> list[str]:
    markup = call.params.get("reply_markup")
    if not markup:
        return []
    markup = json.loads(markup) if isinstance(markup, str) else markup
    return [b["callback_data"] for row in markup["inline_keyboard"] for b in row]


async def _card(chat: Chat) -> tuple[int, str]:
    async def first() -> Call | None:
        sent = [c for c in chat.fake.of("telegram", "sendMessage") if _buttons(c)]
        return sent[0] if sent else None

    card = await wait_for(first, what="the Telegram card")
    assert int(card.params["chat_id"]) == CHAT
    token = _buttons(card)[0].partition(":")[2]
    return chat.fake.of("telegram", "sendMessage").index(card) + 101, token


async def _press(chat: Chat, user: int, token: str, message_id: int, *,
                 chat_id: int = CHAT, secret: str = TELEGRAM_SECRET, **kw: Any) -> Any:
    update = telegram_click(user, token, chat=chat_id, message_id=message_id, **kw)
    return await chat.client.post(HOOK, json=update,
                                  headers={"X-Telegram-Bot-Api-Secret-Token": secret})


async def _status(chat: Chat, token: str, *status: str) -> bool:
    body = (await chat.client.get(f"/api/v1/decisions/{token}")).json()
    return bool(body["status"] in status)


async def _edit(chat: Chat, needle: str) -> Call | None:
    found = [c for c in chat.fake.of("telegram", "editMessageText")
             if needle in c.params.get("text", "")]
    return found[-1] if found else None


async def _reply(chat: Chat, needle: str) -> Call | None:
    found = [c for c in chat.fake.of("telegram", "sendMessage")
             if "reply_parameters" in c.params and needle in c.params.get("text", "")]
    return found[-1] if found else None


async def test_two_mapped_approvers_execute_a_critical_action_once(
    chat_app: ChatFactory,
) -> None:
    async with chat_app(ScriptedDebate(package(risk="critical"))) as chat:
        await post_alert(chat.client)
        message_id, token = await _card(chat)
        [card] = [c for c in chat.fake.of("telegram", "sendMessage") if _buttons(c)]
        for shown in ("checkout is saturated", "scale shop/deployment/checkout replicas=4",
                      "critical", "Blast radius", "scaling may starve the node",
                      "0 of 2 approvals"):
            assert shown in card.params["text"], shown
        assert _buttons(card) == [f"approve:{token}", f"reject:{token}"]

        first = await _press(chat, 11, token, message_id)
        assert first.status_code == 200 and first.json()["ok"] is True
        one = await wait_for(lambda: _edit(chat, "1 of 2 approvals"), what="1 of 2 approvals")
        assert _buttons(one) and int(one.params["message_id"]) == message_id
        twice = await _press(chat, 11, token, message_id)
        assert "already answered" in twice.json()["refused"]
        assert await chat.executions(token) == 0

        second = await _press(chat, 22, token, message_id)
        assert second.json()["ok"] is True
        await wait_for(lambda: _status(chat, token, *APPROVED), what="the approval")
        await post_alert(chat.client, "resolved")
        await wait_for(lambda: _status(chat, token, "completed", "failed"), what="the end")
        view = (await chat.client.get(f"/api/v1/decisions/{token}")).json()
        assert view["status"] == "completed", view
        final = await wait_for(lambda: _edit(chat, "Verified"), what="the verified card")
        assert "approved by alice, bob" in final.params["text"] and not _buttons(final)
        assert await wait_for(lambda: _reply(chat, "Executed: "), what="the executed reply")
        assert chat.fake.of("telegram", "answerCallbackQuery")
        assert await chat.executions(token) == 1
        assert await chat.approvals(token) == ["alice:approve:chat", "bob:approve:chat"]


async def test_hostile_presses_are_refused_and_nothing_executes(chat_app: ChatFactory) -> None:
    async with chat_app(ScriptedDebate()) as chat:
        await post_alert(chat.client)
        message_id, token = await _card(chat)

        assert (await _press(chat, 11, token, message_id, secret="wrong")).status_code == 401
        update = telegram_click(11, token, chat=CHAT, message_id=message_id)
        no_header = await chat.client.post(HOOK, json=update)
        assert no_header.status_code == 401
        elsewhere = await _press(chat, 11, token, message_id, chat_id=-999)
        assert "not one warroom posts to" in elsewhere.json()["refused"]
        for user, why in ((44, "not mapped"), (33, "role viewer")):
            refused = await _press(chat, user, token, message_id)
            assert why in refused.json()["refused"]
            assert await wait_for(lambda u=user: _reply(chat, f"Refused for user {u}"),
                                  what=f"the refusal of {user} in the chat")
        assert await chat.approvals(token) == [] and await chat.executions(token) == 0

        reject = await _press(chat, 22, token, message_id, verdict="reject", update_id=77)
        replay = await _press(chat, 11, token, message_id, update_id=77)  # same update again
        assert reject.json()["ok"] is True and "already received" in replay.json()["ignored"]
        await wait_for(lambda: _status(chat, token, "rejected"), what="the rejection")
        dead = await wait_for(lambda: _edit(chat, "rejected by bob"), what="the dead card")
        assert not _buttons(dead)
        late = await _press(chat, 11, token, message_id)
        assert "rejected" in late.json()["refused"]
        assert await chat.approvals(token) == ["bob:reject:chat"]
        assert await chat.executions(token) == 0


async def test_an_answer_given_elsewhere_closes_the_cards_buttons(chat_app: ChatFactory) -> None:
    async with chat_app(ScriptedDebate()) as chat:
        await post_alert(chat.client)
        message_id, token = await _card(chat)
        carol = await chat.client.as_user("carol", Role.approver)
        answer = await chat.client.post(f"/api/v1/decisions/{token}/reject",
                                        json={"via": "web"}, headers=carol)
        assert answer.status_code == 200
        dead = await wait_for(lambda: _edit(chat, "rejected by carol"), what="the closed card")
        assert not _buttons(dead) and int(dead.params["message_id"]) == message_id
        assert await wait_for(lambda: _reply(chat, "Rejected by carol"), what="the reply")
        late = await _press(chat, 11, token, message_id)
        assert "rejected" in late.json()["refused"] and await chat.executions(token) == 0
