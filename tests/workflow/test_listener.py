from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from warroom.ingest.models import IncidentRef
from warroom.workflow.incident import incident_workflow_id
from warroom.workflow.listener import WorkflowListener, _Plan, plan


def _ref(status: str = "open") -> IncidentRef:
    return IncidentRef(id="inc", status=status, priority="P1", namespace="shop", service="cart")


def _decisions(*statuses: str) -> list[Any]:
    return [SimpleNamespace(status=s, workflow_id=f"wf-{i}") for i, s in enumerate(statuses, 1)]


@pytest.mark.parametrize(
    ("statuses", "round_no"),
    [
        ((), 1),  # never debated: the first round
        (("ready",), None),  # a round in flight
        (("completed", "analyzing"), None),
        (("completed",), 2),  # fixed but firing again: a fresh round
        (("completed", "completed"), 3),
        (("rejected",), None),  # a human has it
        (("expired",), None),
        (("failed",), None),
    ],
)
def test_a_firing_incident_starts_a_round_only_when_none_is_due(
    statuses: tuple[str, ...], round_no: int | None
) -> None:
    assert plan(_ref(), _decisions(*statuses)) == _Plan("inc", round_no=round_no)


def test_a_resolution_reaches_only_a_decision_waiting_for_approval() -> None:
    assert plan(_ref("resolved"), _decisions("completed", "ready")) == _Plan(
        "inc", resolved_target="wf-2"
    )
    assert plan(_ref("resolved"), _decisions("executing")) == _Plan("inc")
    assert plan(_ref("resolved"), _decisions()) == _Plan("inc")


class _Client:
    def __init__(self) -> None:
        self.enqueued: list[str] = []

    async def enqueue_incident(self, incident_id: str, workflow_id: str) -> str:
        self.enqueued.append(workflow_id)
        return workflow_id


async def test_a_storm_of_re_sends_enqueues_each_round_once() -> None:
    client = _Client()
    listener = WorkflowListener(None, client)
    for _ in range(3):
        await listener._act(_Plan("inc", round_no=1))
    await listener._act(_Plan("inc", round_no=2))
    assert client.enqueued == [incident_workflow_id("inc", 1), incident_workflow_id("inc", 2)]
