"""Telegram adapter: decision cards with an inline keyboard through `python-telegram-bot`."""

from __future__ import annotations

import html

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.error import BadRequest
from telegram.request import HTTPXRequest

from warroom.i18n.service import _
from warroom.notify.models import Card, ChatEvent, MessageRef, labels, risk_label
from warroom.notify.render import summary_line

LIMIT = 4096  # characters Telegram accepts in one message


def text(card: Card) -> str:
    """Return the card as Telegram HTML."""
    e = html.escape
    t = {key: f"<b>{e(label)}</b>" for key, label in labels().items()}
    lines = [
        f"<b>{e(card.headline)}</b>: {e(card.title or card.service)}",
        f"{t['where']} {e(card.namespace)}/{e(card.service)} ({e(card.priority)})",
        f"{t['diagnosis']} {e(card.diagnosis)}",
        f"{t['action']} <code>{e(card.action)}</code>",
        f"{t['risk']} {e(risk_label(card.risk))} · {t['blast']} {card.blast_radius}/100",
        f"{t['approvals']} {e(card.approval_count)}"
        + (f" ({e(', '.join(card.approvers))})" if card.approvers else ""),
        f"{t['opened']} {e(card.opened)}",
    ]
    if card.answer_by:
        lines.append(f"{t['answer_by']} {e(card.answer_by)}")
    if card.challenges:
        lines.append(t["challenges"])
        lines += [f"• {e(c)}" for c in card.challenges]
    if card.summary:  # right under the title: what happened, in plain words
        lines.insert(1, e(summary_line(card)))
    if card.executed_call:
        lines.append(f"{t['executed']} <code>{e(card.executed_call)}</code>")
    if card.verification:
        lines.append(f"{t['verified']} {e(card.verification)}")
    if not card.live:
        closed = _("No buttons: %(reason)s") % {"reason": card.closed_reason}
        lines.append(f"<i>{e(closed)}</i>")
    token = f"<code>{e(card.token)}</code>"
    lines.append(_("decision %(token)s") % {"token": token} + f" · {e(card.status)}")
    body = "\n".join(lines)
    return body if len(body) <= LIMIT else body[: LIMIT - 1] + "…"


def keyboard(card: Card) -> InlineKeyboardMarkup | None:
    """Return Approve/Reject buttons while the decision is ready, else none."""
    if not card.live:
        return None
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(_("Approve"), callback_data=f"approve:{card.token}"),
        InlineKeyboardButton(_("Reject"), callback_data=f"reject:{card.token}"),
    ]])


class TelegramAdapter:
    """Sends and edits cards with `sendMessage` / `editMessageText` as the warroom bot."""

    platform = "telegram"
    threaded = True

    def __init__(self, token: str, *, base_url: str, timeout: float) -> None:
        # both pools are ours, so `aclose` closes them even if the bot never started
        self._requests = (
            HTTPXRequest(connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout),
            HTTPXRequest(connection_pool_size=1),  # getUpdates: unused, warroom uses a webhook
        )
        self.bot = Bot(token, base_url=base_url, request=self._requests[0],
                       get_updates_request=self._requests[1])
        self._started = False

    async def _ready(self) -> Bot:
        """Initialize the bot on first use (one `getMe`), so `aclose` can shut it down."""
        if not self._started:
            await self.bot.initialize()
            self._started = True
        return self.bot

    async def show(self, target: str, event: ChatEvent, ref: MessageRef | None) -> MessageRef:
        """Send the card to chat `target`, or edit it in place (its keyboard goes when dead)."""
        card = event.card
        bot = await self._ready()
        if ref is None:
            message = await bot.send_message(
                chat_id=int(target), text=text(card), parse_mode="HTML",
                reply_markup=keyboard(card),
            )
            return MessageRef(chat_id=message.chat_id, message_id=message.message_id)
        try:
            await bot.edit_message_text(
                chat_id=ref.chat_id, message_id=ref.message_id, text=text(card),
                parse_mode="HTML", reply_markup=keyboard(card),
            )
        except BadRequest as exc:  # the same text again: the card already shows it
            if "not modified" not in str(exc).lower():
                raise
        return ref

    async def tell(self, target: str, ref: MessageRef, text: str) -> None:
        """Reply to the card in its chat."""
        await (await self._ready()).send_message(
            chat_id=ref.chat_id or int(target), text=text,
            reply_parameters=ReplyParameters(message_id=ref.message_id,
                                             allow_sending_without_reply=True)
            if ref.message_id else None,
        )

    async def acknowledge(self, query_id: str, text: str) -> None:
        """Answer a button press: the short notice the person sees on their screen."""
        await (await self._ready()).answer_callback_query(query_id, text[:200])

    async def aclose(self) -> None:
        """Close the bot's HTTP connections."""
        await self.bot.shutdown()
        for request in self._requests:  # a bot never started skips its own shutdown
            await request.shutdown()
