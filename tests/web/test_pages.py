from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from webkit import XSS, firing, package, post_incident, seed_decision, web_app

from warroom.config import Settings
from warroom.store import audit
from warroom.web.format import ago, timeline_text


async def test_pages_render_an_incident_posted_from_the_real_fixture(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    async with web_app(settings, engine) as web:
        incident_id = await post_incident(web, firing(fixtures_dir))
        token = await seed_decision(web, incident_id, package())

        index = await web.client.get("/")
        assert index.status_code == 200
        assert "text/html" in index.headers["content-type"]
        assert "default-src 'self'" in index.headers["content-security-policy"]
        assert f'href="/incidents/{incident_id}"' in index.text
        assert "Error ratio high on checkout" in index.text
        assert "awaiting approval" in index.text and "rollout_undo" in index.text
        assert "needs 2 approvers" in index.text

        page = await web.client.get(f"/incidents/{incident_id}")
        assert page.status_code == 200
        html = page.text
        for expected in (
            "HighErrorRatio", "error ratio is 0.9",  # the signal and its annotation
            "bad_deploy", "confidence 87%", "error ratio 90% on checkout",  # hypothesis
            "rollout_undo shop/deployment/checkout to_revision=6", "risk critical",
            "blast radius <strong>23</strong>", "2 approvers", "team-shop",
            "the old revision may lack a schema migration",  # the Critic
            "kubectl -n shop annotate deployment/checkout gate=errors",  # follow-up change
            "kubectl -n shop rollout undo deployment/checkout --to-revision=6",  # solver
            "decision.ready", token,  # the timeline
            f'action="/incidents/{incident_id}/decisions/{token}/approve"',
            f'action="/incidents/{incident_id}/decisions/{token}/reject"',
            "Approve as alice",  # the signed-in identity, not a typed name
        ):
            assert expected in html, expected

        playbooks = await web.client.get("/playbooks")
        assert playbooks.status_code == 200 and "No playbook has been learned yet" in playbooks.text

        trail = await web.client.get("/audit")
        assert trail.status_code == 200
        assert "Hash chain verified" in trail.text and "decision.ready" in trail.text
        only = await web.client.get("/audit", params={"incident": incident_id})
        assert "agent.turn" in only.text

        assert (await web.client.get("/incidents/nope")).status_code == 404
        css = await web.client.get("/web/static/app.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert (await web.client.get("/web/static/secret.py")).status_code == 404


async def test_hostile_evidence_renders_as_text_everywhere(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    async with web_app(settings, engine) as web:
        incident_id = await post_incident(web, firing(fixtures_dir, summary=XSS))
        await seed_decision(web, incident_id, package(evidence=XSS))
        pages = [await web.client.get(path) for path in
                 ("/", f"/incidents/{incident_id}", "/audit")]
        for page in pages:
            assert page.status_code == 200
            assert "<script>alert" not in page.text and "<img src=x" not in page.text
        detail = pages[1].text
        # shown, as text: the annotation, the cited evidence and the timeline's payloads
        assert detail.count("&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;") >= 2
        assert "&lt;img src=x onerror=alert(1)&gt;" in detail


async def test_the_audit_page_says_when_the_chain_is_broken(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with web_app(settings, engine) as web:
        await post_incident(web, firing(fixtures_dir))
        async with web.sessions() as session, session.begin():
            await audit.append(session, kind="test.note", payload={"n": 1})

        async def broken(session: object, **_: object) -> audit.ChainReport:
            return audit.ChainReport(ok=False, checked=1, first_bad_seq=2)

        monkeypatch.setattr(audit, "verify_chain", broken)
        page = await web.client.get("/audit")
        assert "Hash chain BROKEN at row 2" in page.text


def test_timeline_entries_say_what_happened() -> None:
    turn = {"kind": "agent.turn", "summary": "critic",
            "data": {"role": "critic", "vote": "request_revision", "degraded": True}}
    assert timeline_text(turn) == "critic voted request revision (degraded)"
    signal = {"kind": "signal.received", "summary": "",
              "data": {"alertname": "HighErrorRatio", "status": "firing", "receive_count": 3}}
    assert timeline_text(signal) == "HighErrorRatio firing, received 3×"
    moved = {"kind": "decision.approved", "summary": "", "data": {"from": "ready"}}
    assert timeline_text(moved) == "from ready"
    assert timeline_text({"kind": "x", "summary": "kept", "data": {}}) == "kept"
    assert timeline_text({"kind": "incident.resolved", "data": {"priority": "P1"}}) == "priority=P1"


def test_ages_read_plainly_past_and_future() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert ago(now - timedelta(seconds=30), now) == "just now"
    assert ago(now - timedelta(minutes=4, seconds=5), now) == "4 min ago"
    assert ago(now - timedelta(hours=5, minutes=2), now) == "5 h 2 min ago"
    assert ago(now + timedelta(minutes=59, seconds=30), now) == "in 59 min"
    assert ago("2025-12-29T00:00:00Z", now) == "3 d ago"


async def test_pages_read_in_traditional_chinese_with_taipei_times(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    taipei = settings.model_copy(update={"language": "zh-TW", "timezone": "Asia/Taipei"})
    async with web_app(taipei, engine) as web:
        incident_id = await post_incident(web, firing(fixtures_dir))
        await seed_decision(web, incident_id, package())
        incident = (await web.client.get(f"/api/v1/incidents/{incident_id}")).json()
        opened = datetime.fromisoformat(incident["opened_at"].replace("Z", "+00:00"))
        in_taipei = opened.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")

        index = await web.client.get("/")
        assert index.status_code == 200
        for expected in ('lang="zh-Hant-TW"', "事件", "處理中的事件，最緊急者優先", "待核准",
                         "需要 2 位核准者", "所有時間皆為 Asia/Taipei (UTC+08:00)",
                         f"{in_taipei} UTC+08:00", "統計", "稽核軌跡"):
            assert expected in index.text, expected
        assert "Open incidents, most urgent first" not in index.text
        assert "awaiting approval" not in index.text

        page = await web.client.get(f"/incidents/{incident_id}")
        assert page.status_code == 200
        for expected in ("決策", "主要假設", "辯論", "時間軸", "以 alice 身分核准", "信心度 87%",
                         "風險 重大", f"{in_taipei} UTC+08:00"):
            assert expected in page.text, expected
        assert "Top hypotheses" not in page.text and "Approve as alice" not in page.text
        script_words = json.loads(page.text.split('id="warroom-i18n">', 1)[1].split("</script>")[0])
        assert script_words["just_now"] == "剛剛" and script_words["timezone"] == "Asia/Taipei"

        stats = await web.client.get("/stats", params={"days": 1})
        assert stats.status_code == 200
        for expected in ("統計", "復原時間（MTTR）", "受影響最多的服務", "最近 1 天", "UTC+08:00",
                         "每日開立與解決的事件"):
            assert expected in stats.text, expected
        assert "Most affected services" not in stats.text

        login = await web.client.get("/login")
        assert "登入 warroom" in login.text and "API 權杖" in login.text

        # machine-facing output stays language-neutral and in UTC
        assert incident["opened_at"].endswith(("Z", "+00:00"))
        assert "事件" not in (await web.client.get(f"/api/v1/incidents/{incident_id}")).text
