"""Chat callbacks: Slack button clicks and Telegram updates, verified before anything acts."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request
from pydantic import ValidationError

from warroom.notify.hub import NotifyHub
from warroom.notify.models import (
    SLACK_APPROVE,
    SLACK_REJECT,
    ChatAnswer,
    ChatRefusal,
    MessageRef,
    SlackInteraction,
    TelegramUpdate,
)
from warroom.notify.service import allowed_telegram_chats, answer_click, remember
from warroom.store.deps import NotWired

router = APIRouter(prefix="/api/v1/notify", tags=["notify"])
_VERDICTS = {SLACK_APPROVE: "approve", SLACK_REJECT: "reject"}


def get_hub() -> NotifyHub:
    """The app's notify hub; the composition root binds it."""
    raise NotWired("the notify hub")


Hub = Annotated[NotifyHub, Depends(get_hub)]


@router.post("/slack/interactions")
async def slack_interactions(request: Request, background: BackgroundTasks, hub: Hub
                             ) -> dict[str, Any]:
    """Act on a Slack button click signed with the app's signing secret (fresh, not replayed)."""
    verifier = hub.slack_verifier
    if verifier is None:
        raise HTTPException(404, "Slack is not configured: set WARROOM_NOTIFY_SLACK_SIGNING_SECRET")
    body = await request.body()
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        raise HTTPException(401, "Slack signature is missing, wrong or older than 5 minutes")
    try:
        raw = parse_qs(body.decode())["payload"][0]
        payload = SlackInteraction.model_validate_json(raw)
    except (KeyError, UnicodeDecodeError, ValidationError) as exc:
        raise HTTPException(422, f"body: not a Slack interaction payload ({exc})") from exc
    ctx = hub.context()
    key = "slack:" + hashlib.sha256(f"{timestamp}:{signature}".encode()).hexdigest()
    if not await remember(ctx, key, "slack"):
        raise HTTPException(409, "this Slack callback was already received: replay refused")
    action = next((a for a in payload.actions if a.action_id in _VERDICTS), None)
    if payload.type != "block_actions" or action is None:
        return {"ok": True, "ignored": "not a warroom button"}
    channel = payload.channel.id if payload.channel else ""
    answer = ChatAnswer(
        platform="slack", user_id=payload.user.id, token=action.value,
        verdict=_VERDICTS[action.action_id],
        destination=f"slack:{channel}",
        ref=MessageRef(channel=channel, ts=payload.message.ts if payload.message else ""),
    )
    try:
        view = await answer_click(ctx, answer)
    except ChatRefusal as exc:
        background.add_task(hub.tell, answer, f"<@{answer.user_id}> refused: {exc}")
        return {"ok": False, "refused": str(exc)}
    return {"ok": True, "status": view.status}


@router.post("/telegram/webhook")
async def telegram_webhook(request: Request, background: BackgroundTasks, hub: Hub
                           ) -> dict[str, Any]:
    """Act on a Telegram button click from an allowed chat, sent with the webhook's secret."""
    secret = hub.settings.notify_telegram_webhook_secret.get_secret_value()
    if not secret or hub.telegram is None:
        raise HTTPException(404, "Telegram is not configured: set "
                                 "WARROOM_NOTIFY_TELEGRAM_BOT_TOKEN and _WEBHOOK_SECRET")
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise HTTPException(401, "X-Telegram-Bot-Api-Secret-Token is missing or wrong")
    try:
        update = TelegramUpdate.model_validate_json(await request.body())
    except ValidationError as exc:
        raise HTTPException(422, f"body: not a Telegram update ({exc})") from exc
    ctx = hub.context()
    if not await remember(ctx, f"telegram:{update.update_id}", "telegram"):
        return {"ok": False, "ignored": f"update {update.update_id} was already received"}
    query = update.callback_query
    if query is None or query.message is None:
        return {"ok": True, "ignored": "not a button click"}
    verdict, _, token = query.data.partition(":")
    if verdict not in ("approve", "reject") or not token:
        return {"ok": True, "ignored": "not a warroom button"}
    chat = query.message.chat.id
    answer = ChatAnswer(
        platform="telegram", user_id=str(query.from_.id), token=token,
        verdict=verdict,
        destination=f"telegram:{chat}",
        ref=MessageRef(chat_id=chat, message_id=query.message.message_id),
    )
    try:
        view = await answer_click(ctx, answer)
    except ChatRefusal as exc:
        background.add_task(hub.acknowledge, query.id, f"Refused: {exc}")
        if chat in allowed_telegram_chats(hub.settings):
            background.add_task(hub.tell, answer, f"Refused for user {answer.user_id}: {exc}")
        return {"ok": False, "refused": str(exc)}
    said = "approved" if verdict == "approve" else "rejected"
    background.add_task(hub.acknowledge, query.id, f"You {said}: the decision is {view.status}")
    return {"ok": True, "status": view.status}
