"""Cards rendered for each platform: hostile text stays text, dead cards have no buttons."""

from __future__ import annotations

from datetime import UTC, datetime

from warroom.i18n.service import activate
from warroom.notify import render, slack, telegram
from warroom.notify.models import Card

XSS = '<b>x</b> & <a href="http://evil">click</a> <!channel>'


def _card(**update: object) -> Card:
    values: dict[str, object] = dict(
        token="d_1", headline="Decision ready", status="ready", incident_id="i-1",
        title=XSS, namespace="shop", service="checkout", priority="P1", diagnosis=XSS,
        action="scale shop/deployment/checkout replicas=4", risk="critical", blast_radius=23,
        confidence=0.8, challenges=[f"warning: {XSS}"], approvers=["alice"],
        approvals_needed=2, live=True,
    )
    values.update(update)
    return Card.model_validate(values)


def test_telegram_html_escapes_what_the_incident_says() -> None:
    text = telegram.text(_card())
    assert "<a href" not in text and "&lt;a href=&quot;http://evil&quot;&gt;" in text
    assert "1 of 2 approvals (alice)" in text
    markup = telegram.keyboard(_card())
    assert markup is not None
    assert [b.callback_data for b in markup.inline_keyboard[0]] == ["approve:d_1", "reject:d_1"]
    assert telegram.keyboard(_card(live=False, closed_reason="rejected by bob")) is None


def test_slack_mrkdwn_escapes_mentions_and_links() -> None:
    blocks = slack.blocks(_card())
    # mrkdwn reads <...> as links and mentions; plain_text (the header) shows text as it is
    rendered = str([b for b in blocks if b["type"] != "header"])
    assert "<!channel>" not in rendered and "&lt;!channel&gt;" in rendered
    assert "<a href" not in rendered
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == ["warroom_approve", "warroom_reject"]
    dead = slack.blocks(_card(live=False, status="expired",
                              closed_reason="the decision expired"))
    assert not [b for b in dead if b["type"] == "actions"]
    assert "No buttons: the decision expired" in str(dead)


def test_the_incident_summary_is_on_the_card_under_its_title() -> None:
    from datetime import UTC, datetime

    from warroom.decisions.models import DecisionView
    from warroom.domain.models import ReadyPackage
    from warroom.i18n.service import activate
    from warroom.notify.render import card, summary_line
    from warroom.store.tables import Incident

    at = datetime(2026, 1, 1, tzinfo=UTC)
    view = DecisionView(
        token="d_1", incident_id="i-1", status="ready", fault=None, action_type=None,
        requires_approvals=1, auto_execute=False, parent_token=None, workflow_id=None,
        created_at=at, updated_at=at, ready_at=at, expires_at=None,
        package={"status": "ready", "summary": "bad deploy on checkout",
                 "incident_summary": f"checkout fails since its deploy {XSS}",
                 "policy": {"auto_execute": False, "requires_approvals": 1,
                            "executable": True}})
    incident = Incident(id="i-1", title="HighErrorRate", namespace="shop", service="checkout",
                        priority="P1", opened_at=at)
    shown = card(view, incident)
    assert shown.summary == f"checkout fails since its deploy {XSS}"
    assert summary_line(shown) == f"Summary: {shown.summary}"
    assert telegram.text(shown).splitlines()[1].startswith("Summary: checkout fails since")
    assert "&lt;a href" in telegram.text(shown).splitlines()[1]
    section = slack.blocks(shown)[1]
    assert section["text"]["text"].startswith("Summary: checkout fails") and \
        "&lt;!channel&gt;" in section["text"]["text"]
    activate("zh-TW")
    try:
        assert summary_line(shown).startswith("摘要：checkout fails")
    finally:
        activate("en")
    without = card(view.model_copy(update={"package": ReadyPackage.model_validate(
        {"status": "ready", "policy": {"auto_execute": False, "requires_approvals": 1,
                                       "executable": True}})}), incident)
    assert summary_line(without) == "" and "Summary" not in telegram.text(without)
    assert not any("Summary" in str(b) for b in slack.blocks(without))


def test_a_card_reads_in_traditional_chinese_on_every_platform() -> None:
    activate("zh-TW")
    try:
        card = _card(opened="2026-12-05 02:30 (UTC+08:00)",
                     answer_by="2026-12-05 03:30 (UTC+08:00)")
        blocks = str(slack.blocks(card))
        html = telegram.text(card)
        markup = telegram.keyboard(card)
        fallback = slack.fallback_text(card)
    finally:
        activate("en")
    for rendered in (blocks, html):
        assert "診斷" in rendered and "核准" in rendered and "Diagnosis" not in rendered
        assert "2026-12-05 03:30 (UTC+08:00)" in rendered
        assert "重大" in rendered  # the risk level, critical
    assert markup is not None
    assert [b.text for b in markup.inline_keyboard[0]] == ["核准", "拒絕"]
    assert "於 shop/checkout 執行" in fallback


def test_card_times_read_in_the_zone_with_its_offset() -> None:
    at = datetime(2026, 12, 4, 18, 30, tzinfo=UTC)
    assert render.when(at, "Asia/Taipei") == "2026-12-05 02:30 (UTC+08:00)"
    assert render.when(at, "UTC") == "2026-12-04 18:30 (UTC+00:00)"
