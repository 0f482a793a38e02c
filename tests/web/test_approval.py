from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from webkit import firing, package, post_incident, seed_decision, web_app

from warroom.config import Settings


async def test_an_approval_through_the_page_form_reaches_the_decision(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    async with web_app(settings, engine) as web:
        incident_id = await post_incident(web, firing(fixtures_dir))
        token = await seed_decision(web, incident_id, package(risk="critical"))
        form = f"/incidents/{incident_id}/decisions/{token}"

        done = await web.client.post(f"{form}/approve",
                                     data={"approver": "alice", "comment": "rollback is safe"})
        assert done.status_code == 303
        assert done.headers["location"] == f"/incidents/{incident_id}?answered=approve"
        page = await web.client.get(done.headers["location"])
        assert "Your approval was recorded" in page.text
        assert "1 of 2 approvals recorded" in page.text and "rollback is safe" in page.text

        decision = (await web.client.get(f"/api/v1/decisions/{token}")).json()
        assert [(a["approver"], a["verdict"], a["via"], a["comment"])
                for a in decision["approvals"]] == [
            ("alice", "approve", "web", "rollback is safe")]

        # critical risk needs two different people: the API's refusal is shown, not swallowed
        again = await web.client.post(f"{form}/approve", data={"comment": "me again"})
        assert again.status_code == 409
        assert "Not recorded." in again.text
        assert "approver &#39;alice&#39; already answered decision" in again.text
        assert "me again" in again.text  # the form keeps what was typed

        # the approver of record is who signed in, never a name in the form
        second = await web.client.post(f"{form}/approve", data={"approver": "mallory"},
                                       headers=await web.client.as_user("bob"))
        assert second.status_code == 303
        decision = (await web.client.get(f"/api/v1/decisions/{token}")).json()
        assert [a["approver"] for a in decision["approvals"]] == ["alice", "bob"]
        page = await web.client.get(f"/incidents/{incident_id}")
        assert "2 approvals recorded, enough" in page.text
        trail = await web.client.get("/audit", params={"incident": incident_id})
        assert "decision.approval" in trail.text


async def test_a_rejection_through_the_page_is_recorded_and_wrong_links_are_refused(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    async with web_app(settings, engine) as web:
        incident_id = await post_incident(web, firing(fixtures_dir))
        token = await seed_decision(web, incident_id, package(risk="medium"))

        missing = await web.client.post(f"/incidents/{incident_id}/decisions/d_nope/reject",
                                        data={"comment": "no such"})
        assert missing.status_code == 404 and "no decision with token" in missing.text

        done = await web.client.post(f"/incidents/{incident_id}/decisions/{token}/reject",
                                     data={"comment": "not now"},
                                     headers=await web.client.as_user("carol"))
        assert done.status_code == 303
        decision = (await web.client.get(f"/api/v1/decisions/{token}")).json()
        assert [(a["approver"], a["verdict"]) for a in decision["approvals"]] == [
            ("carol", "reject")]
        page = await web.client.get(f"/incidents/{incident_id}")
        assert "carol" in page.text and "not now" in page.text
        assert "Rejected by carol: it will not run" in page.text


async def test_a_form_posted_from_another_site_is_refused(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    async with web_app(settings, engine) as web:
        incident_id = await post_incident(web, firing(fixtures_dir))
        token = await seed_decision(web, incident_id, package(risk="medium"))
        form = f"/incidents/{incident_id}/decisions/{token}/approve"
        forged = await web.client.post(form, data={"approver": "mallory"},
                                       headers={"Origin": "http://evil.example"})
        assert forged.status_code == 403 and "evil.example" in forged.text
        sneaky = await web.client.post(form, data={"approver": "mallory"},
                                       headers={"Sec-Fetch-Site": "cross-site"})
        assert sneaky.status_code == 403
        decision = (await web.client.get(f"/api/v1/decisions/{token}")).json()
        assert decision["approvals"] == []
        ours = await web.client.post(form, data={"approver": "alice"},
                                     headers={"Origin": "http://warroom",
                                              "Sec-Fetch-Site": "same-origin"})
        assert ours.status_code == 303
