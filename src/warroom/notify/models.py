"""Notification types: the card a decision shows in chat, the events that change it, refusals."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from warroom.i18n.service import _

EventKind = Literal[
    "ready", "approval", "approved", "rejected", "expired", "executing", "verifying",
    "completed", "failed",
]
# the action ids of a Slack card's buttons
SLACK_APPROVE = "warroom_approve"
SLACK_REJECT = "warroom_reject"


def labels() -> dict[str, str]:
    """The card's field names in the active language (Slack and Telegram)."""
    return {"diagnosis": _("Diagnosis:"), "action": _("Action:"), "risk": _("Risk:"),
            "blast": _("Blast radius:"), "where": _("Where:"), "approvals": _("Approvals:"),
            "opened": _("Opened:"), "answer_by": _("Answer by:"),
            "challenges": _("Critic's challenges:"), "executed": _("Executed:"),
            "verified": _("Verified:")}


def risk_label(risk: str) -> str:
    """Name a risk level for people in the active language (an unknown one as it is)."""
    labels = {"low": _("low"), "medium": _("medium"), "high": _("high"),
              "critical": _("critical")}
    return labels.get(risk, risk)


class Card(BaseModel):
    """What a decision's card shows; rendered to Slack blocks, Telegram HTML or webhook JSON."""

    token: str
    headline: str  # "Decision ready", "Rollback proposed", ...
    status: str
    incident_id: str
    title: str
    namespace: str
    service: str
    priority: str
    diagnosis: str
    summary: str = ""  # the incident summary for people (a model's or the rule template's)
    action: str
    risk: str
    blast_radius: int
    confidence: float
    challenges: list[str] = []
    approvers: list[str] = []  # who approved so far
    approvals_needed: int = 1
    rejected_by: str | None = None
    executed_call: str | None = None  # the exact call, as kubectl, and the executor
    verification: str | None = None  # verdict and score
    live: bool  # the buttons act: the decision is ready
    closed_reason: str = ""  # why the buttons are gone
    # times for people: local time in the configured zone and its UTC offset
    opened: str = ""  # when the incident opened
    answer_by: str | None = None  # while live: when the decision expires unanswered

    @property
    def approval_count(self) -> str:
        """Say how many of the needed approvals are in, e.g. "1 of 2 approvals"."""
        return _("%(have)s of %(need)s approvals") % {
            "have": len(self.approvers), "need": self.approvals_needed}


class ChatEvent(BaseModel):
    """One outbox entry ready to deliver: the card as it is now and a line for the thread."""

    outbox_id: int
    kind: str
    card: Card
    note: str | None = None  # posted in the card's thread; None: the card update says it all


class MessageRef(BaseModel):
    """Where a card lives on its platform, to edit it later (webhooks have none)."""

    channel: str = ""  # Slack channel id
    ts: str = ""  # Slack message timestamp
    chat_id: int = 0  # Telegram chat
    message_id: int = 0  # Telegram message


class ChatRefusal(Exception):
    """A click that must not act; the message is shown to the person in the card's thread."""


class ChatAnswer(BaseModel):
    """A verified click on a card: who (on the platform), which decision, which button."""

    platform: Literal["slack", "telegram"]
    user_id: str
    token: str
    verdict: Literal["approve", "reject"]
    destination: str  # where the card is, to reply in its thread
    ref: MessageRef


# what the platforms send back: only the fields warroom reads, validated


class SlackUser(BaseModel):
    id: str


class SlackChannel(BaseModel):
    id: str


class SlackMessage(BaseModel):
    ts: str


class SlackAction(BaseModel):
    action_id: str
    value: str = ""


class SlackInteraction(BaseModel):
    """A Slack `block_actions` payload (a button click)."""

    type: str
    user: SlackUser
    channel: SlackChannel | None = None
    message: SlackMessage | None = None
    actions: list[SlackAction] = []


class TelegramUser(BaseModel):
    id: int


class TelegramChat(BaseModel):
    id: int


class TelegramMessage(BaseModel):
    message_id: int
    chat: TelegramChat


class TelegramCallbackQuery(BaseModel):
    id: str
    from_: TelegramUser = Field(alias="from")
    message: TelegramMessage | None = None
    data: str = ""


class TelegramUpdate(BaseModel):
    """A Telegram update; only button clicks (`callback_query`) are acted on."""

    update_id: int
    callback_query: TelegramCallbackQuery | None = None
