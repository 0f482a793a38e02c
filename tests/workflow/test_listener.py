from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from warroom.ingest.models import IncidentRef
from warroom.workflow.engine import RoundStart
from warroom.workflow.incident import incident_workflow_id
from warroom.workflow.listener import WorkflowListener, _Plan, plan


def _ref(status: str = "open", *, reopened: bool = False) -> IncidentRef:
    return IncidentRef(id="inc", status=status, priority="P1", namespace="shop", service="cart",
                       created=reopened)


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


@pytest.mark.parametrize("last", ["rejected", "expired", "failed"])
def test_an_incident_that_resolved_and_fires_again_gets_a_fresh_round(last: str) -> None:
    # e.g. its fix waited for approval, it resolved (the decision expired), and it flapped back:
    # nobody has the new episode, so it must not wait on the old one forever
    assert plan(_ref(reopened=True), _decisions("completed", last)) == _Plan("inc", round_no=3)
    assert plan(_ref(reopened=True), _decisions("ready")) == _Plan("inc")  # still in flight


def test_a_resolution_reaches_only_a_decision_waiting_for_approval() -> None:
    assert plan(_ref("resolved"), _decisions("completed", "ready")) == _Plan(
        "inc", resolved_target="wf-2"
    )
    assert plan(_ref("resolved"), _decisions("executing")) == _Plan("inc")
    assert plan(_ref("resolved"), _decisions()) == _Plan("inc")


class _Client:
    def __init__(self, *, fail_batch: bool = False, refuse: str = "") -> None:
        self.batches: list[list[str]] = []
        self.one_by_one: list[str] = []
        self.fail_batch = fail_batch
        self.refuse = refuse  # an incident whose round the system database refuses

    async def enqueue_incidents(self, rounds: list[RoundStart]) -> None:
        if self.fail_batch:
            raise RuntimeError("the batch failed")
        self.batches.append([r.workflow_id for r in rounds])

    async def enqueue_incident(self, incident_id: str, workflow_id: str) -> str:
        if incident_id == self.refuse:
            raise RuntimeError(f"refused {incident_id}")
        self.one_by_one.append(workflow_id)
        return workflow_id


async def test_a_storm_of_re_sends_enqueues_each_round_once() -> None:
    client = _Client()
    listener = WorkflowListener(None, client)
    for _ in range(3):
        await listener._start([_Plan("inc", round_no=1), _Plan("inc", round_no=1)])
    await listener._start([_Plan("inc", round_no=2), _Plan("other")])
    assert client.batches == [[incident_workflow_id("inc", 1)], [incident_workflow_id("inc", 2)]]


async def test_the_rounds_of_a_batch_are_enqueued_together() -> None:
    client = _Client()
    listener = WorkflowListener(None, client)
    await listener._start([_Plan(f"inc{i}", round_no=1) for i in range(3)])
    assert client.batches == [[incident_workflow_id(f"inc{i}", 1) for i in range(3)]]
    assert client.one_by_one == []


async def test_a_failed_batch_is_retried_one_by_one_and_only_the_refused_round_is_lost(
) -> None:
    client = _Client(fail_batch=True, refuse="inc1")
    listener = WorkflowListener(None, client)
    await listener._start([_Plan(f"inc{i}", round_no=1) for i in range(3)])
    assert client.one_by_one == [incident_workflow_id("inc0", 1), incident_workflow_id("inc2", 1)]
    # the refused round was not remembered: the next alert of that incident tries again
    client.fail_batch, client.refuse = False, ""
    await listener._start([_Plan(f"inc{i}", round_no=1) for i in range(3)])
    assert client.batches == [[incident_workflow_id("inc1", 1)]]
