from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.learn import repository
from warroom.store.tables import Playbook

AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _playbook(fault: str, action_type: str, trust: float) -> Playbook:
    return Playbook(fault=fault, action_type=action_type, trust=trust, successes=1, failures=0,
                    updated_at=AT)


async def test_playbooks_are_read_by_key_and_most_trusted_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        session.add_all([_playbook("bad_deploy", "rollout_undo", 0.4),
                         _playbook("memory_leak", "rollout_restart", 0.9),
                         _playbook("bad_deploy", "rollout_restart", 0.4)])
    async with sessions() as session:
        ranked = await repository.by_trust(session)
        every = await repository.all_playbooks(session)
        one = await repository.get(session, "bad_deploy", "rollout_undo")
        none = await repository.get(session, "bad_deploy", "scale")
    assert [(p.fault, p.action_type) for p in ranked] == [
        ("memory_leak", "rollout_restart"), ("bad_deploy", "rollout_restart"),
        ("bad_deploy", "rollout_undo")]
    assert len(every) == 3
    assert one is not None and one.trust == 0.4 and none is None
