"""Slack adapter: decision cards as Block Kit messages through the official `slack-sdk`."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from warroom.i18n.service import _
from warroom.notify.models import SLACK_APPROVE as APPROVE
from warroom.notify.models import SLACK_REJECT as REJECT
from warroom.notify.models import Card, ChatEvent, MessageRef, labels, risk_label
from warroom.notify.render import summary_line


def _esc(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _md(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text[:3000]}


def blocks(card: Card) -> list[dict[str, Any]]:
    """Return the card as Block Kit blocks, with Approve/Reject buttons while it is live."""
    t = labels()
    title = f"{card.headline}: {card.title or card.service}"[:150]
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {"type": "section", "text": _md(f"*{t['diagnosis']}* {_esc(card.diagnosis)}")},
        {"type": "section", "fields": [
            _md(f"*{t['action']}*\n`{_esc(card.action)}`"),
            _md(f"*{t['risk']}* {_esc(risk_label(card.risk))}\n"
                f"*{t['blast']}* {card.blast_radius}/100"),
            _md(f"*{t['where']}* {_esc(card.namespace)}/{_esc(card.service)} "
                f"({card.priority})"),
            _md(f"*{t['approvals']}* {card.approval_count}"
                + (f"\n{_esc(', '.join(card.approvers))}" if card.approvers else "")),
            _md(f"*{t['opened']}* {card.opened}"
                + (f"\n*{t['answer_by']}* {card.answer_by}" if card.answer_by else "")),
        ]},
    ]
    if card.summary:  # right under the title: what happened, in plain words
        out.insert(1, {"type": "section", "text": _md(_esc(summary_line(card)))})
    if card.challenges:
        lines = "\n".join(f"• {_esc(c)}" for c in card.challenges)
        out.append({"type": "section", "text": _md(f"*{t['challenges']}*\n{lines}")})
    done = [f"*{t['executed']}* `{_esc(card.executed_call)}`" if card.executed_call else "",
            f"*{t['verified']}* {_esc(card.verification)}" if card.verification else ""]
    if any(done):
        out.append({"type": "section", "text": _md("\n".join(d for d in done if d))})
    if card.live:
        out.append({"type": "actions", "block_id": f"decision:{card.token}", "elements": [
            {"type": "button", "action_id": APPROVE, "value": card.token, "style": "primary",
             "text": {"type": "plain_text", "text": _("Approve")}},
            {"type": "button", "action_id": REJECT, "value": card.token, "style": "danger",
             "text": {"type": "plain_text", "text": _("Reject")}},
        ]})
    else:
        out.append({"type": "context", "elements": [
            _md(_("No buttons: %(reason)s") % {"reason": _esc(card.closed_reason)})]})
    out.append({"type": "context", "elements": [
        _md(_("decision %(token)s") % {"token": f"`{card.token}`"} + f" · {card.status}")]})
    return out


def fallback_text(card: Card) -> str:
    """Return the plain text notifications and screen readers show for a card."""
    return _("%(headline)s: %(action)s on %(where)s (%(status)s)") % {
        "headline": card.headline, "action": card.action,
        "where": f"{card.namespace}/{card.service}", "status": card.status}


class SlackAdapter:
    """Posts and edits cards with `chat.postMessage` / `chat.update` as the warroom bot."""

    platform = "slack"
    threaded = True

    def __init__(self, token: str, *, base_url: str, timeout: float) -> None:
        self.client = AsyncWebClient(token=token, base_url=base_url, timeout=int(timeout))

    async def show(self, target: str, event: ChatEvent, ref: MessageRef | None) -> MessageRef:
        """Post the card to channel `target`, or update it in place."""
        card = event.card
        if ref is None:
            response = await self.client.chat_postMessage(
                channel=target, text=fallback_text(card), blocks=blocks(card)
            )
            return MessageRef(channel=str(response["channel"]), ts=str(response["ts"]))
        await self.client.chat_update(
            channel=ref.channel, ts=ref.ts, text=fallback_text(card), blocks=blocks(card)
        )
        return ref

    async def tell(self, target: str, ref: MessageRef, text: str) -> None:
        """Reply in the card's thread."""
        await self.client.chat_postMessage(
            channel=ref.channel or target, thread_ts=ref.ts or None, text=text
        )

    async def aclose(self) -> None:
        """Close the client's HTTP session (slack-sdk opens one per call)."""
