"""Routing notifications to destinations, and answering a decision from a chat button."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.access.models import Identity, Role
from warroom.config import Settings
from warroom.decisions.approvals import answer_decision
from warroom.decisions.models import (
    ApprovalRefused,
    ApprovalRequest,
    DecisionNotFound,
    DecisionView,
    Verdict,
)
from warroom.decisions.ports import ApprovalWaker
from warroom.notify import repository
from warroom.notify.models import ChatAnswer, ChatRefusal
from warroom.notify.ports import IdentityDirectory
from warroom.store import audit
from warroom.store.db import transaction


def destinations(settings: Settings, *, namespace: str, priority: str) -> list[str]:
    """Return every destination whose route matches the incident's namespace and priority."""
    out: list[str] = []
    for route in settings.notify_routes:
        if route.namespaces and namespace not in route.namespaces:
            continue
        if route.priorities and priority not in route.priorities:
            continue
        if route.to not in out:
            out.append(route.to)
    return out


def allowed_telegram_chats(settings: Settings) -> set[int]:
    """Return the Telegram chats warroom posts to: the only chats whose clicks count."""
    chats: set[int] = set()
    for route in settings.notify_routes:
        platform, _, target = route.to.partition(":")
        if platform == "telegram":
            chats.add(int(target))
    return chats


@dataclass
class ChatContext:
    """What answering a click needs: the database, who is who, and the workflow to wake."""

    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    directory: IdentityDirectory | None
    waker: ApprovalWaker | None


async def submit_answer(ctx: ChatContext, token: str, verdict: Verdict, identity: Identity
                        ) -> DecisionView:
    """Answer a decision as `identity` through the one approval flow every surface shares."""
    request = ApprovalRequest(comment="", via="chat")
    return await answer_decision(ctx.sessions, token, request, verdict, approver=identity,
                                 waker=ctx.waker)


async def identify(ctx: ChatContext, platform: str, user_id: str) -> Identity:
    """Return the warroom identity of a chat user allowed to approve, or refuse the click."""
    users = (ctx.settings.notify_slack_users if platform == "slack"
             else ctx.settings.notify_telegram_users)
    name = users.get(user_id)
    if name is None:
        raise ChatRefusal(
            f"your {platform} user {user_id} is not mapped to a warroom user: "
            "ask an admin to add it to the user mapping"
        )
    if ctx.directory is None:
        raise ChatRefusal("chat approvals are off: warroom has no user directory to check roles")
    identity = await ctx.directory.get(name)
    if identity is None:
        raise ChatRefusal(f"warroom has no user {name!r}: ask an admin to create it")
    if not identity.role.allows(Role.approver):
        raise ChatRefusal(
            f"{identity.name} has the role {identity.role.value}: answering a decision needs "
            f"{Role.approver.value}"
        )
    return identity


async def answer_click(ctx: ChatContext, answer: ChatAnswer) -> DecisionView:
    """Check who clicked and answer the decision; raise `ChatRefusal` saying why not."""
    try:
        chat = answer.ref.chat_id
        if answer.platform == "telegram" and chat not in allowed_telegram_chats(ctx.settings):
            raise ChatRefusal(f"chat {chat} is not one warroom posts to: clicks here do nothing")
        identity = await identify(ctx, answer.platform, answer.user_id)
        return await submit_answer(ctx, answer.token, answer.verdict, identity)
    except (DecisionNotFound, ApprovalRefused) as exc:
        await _audit_refusal(ctx, answer, str(exc))
        raise ChatRefusal(str(exc)) from exc
    except ChatRefusal as exc:
        await _audit_refusal(ctx, answer, str(exc))
        raise


async def _audit_refusal(ctx: ChatContext, answer: ChatAnswer, reason: str) -> None:
    async with transaction(ctx.sessions) as session:
        await audit.append(
            session, kind="notify.refused", actor=f"{answer.platform}:{answer.user_id}",
            decision_token=answer.token,
            payload={"platform": answer.platform, "user_id": answer.user_id,
                     "verdict": answer.verdict, "reason": reason},
        )


async def remember(ctx: ChatContext, key: str, platform: str) -> bool:
    """Record a verified callback; False when it was acted on before (a replay)."""
    async with transaction(ctx.sessions) as session:
        return await repository.remember_callback(session, key, platform, at=datetime.now(UTC))
