from __future__ import annotations

from typing import Any

import pytest

from warroom.agents.models import Action
from warroom.safety.revisions import rolled_back_from, undo_target
from warroom.safety.rules import RuleContext, check_action


def _rs(revision: int, created: str, history: str = "") -> dict[str, Any]:
    annotations = {"deployment.kubernetes.io/revision": str(revision)}
    if history:
        annotations["deployment.kubernetes.io/revision-history"] = history
    return {"kind": "ReplicaSet", "metadata": {
        "namespace": "shop", "name": f"checkout-{created[11:13]}{created[14:16]}",
        "creationTimestamp": created, "annotations": annotations,
        "ownerReferences": [{"kind": "Deployment", "name": "checkout"}]}}


def _deployment(revision: int) -> dict[str, Any]:
    return {"kind": "Deployment", "metadata": {
        "namespace": "shop", "name": "checkout",
        "annotations": {"deployment.kubernetes.io/revision": str(revision)}}}


def _rolled_back(*, history: bool, created: bool) -> list[dict[str, Any]]:
    """Revision 1 ran, revision 2 broke it, `rollout undo` made revision 1 the new revision 3."""
    old = _rs(3, "2026-04-18T09:00:00Z" if created else "", "1" if history else "")
    bad = _rs(2, "2026-04-18T10:30:00Z" if created else "")
    return [_deployment(3), old, bad]


@pytest.mark.parametrize(("history", "created"), [(True, True), (True, False), (False, True)])
def test_a_rollback_marks_the_revision_it_undid(history: bool, created: bool) -> None:
    objects = _rolled_back(history=history, created=created)
    assert rolled_back_from(objects, "shop", "checkout") == {2}
    assert undo_target(objects, "shop", "checkout", None) == 2  # what a bare undo would do


def test_plain_rollouts_undo_nothing() -> None:
    objects = [_deployment(3), _rs(1, "2026-04-18T08:00:00Z"), _rs(2, "2026-04-18T09:00:00Z"),
               _rs(3, "2026-04-18T10:00:00Z")]
    assert rolled_back_from(objects, "shop", "checkout") == set()
    assert undo_target(objects, "shop", "checkout", None) == 2
    assert undo_target(objects, "shop", "checkout", 1) == 1


def test_a_new_deploy_after_a_rollback_may_go_back_to_the_rollback() -> None:
    objects = [_deployment(4), *_rolled_back(history=True, created=True)[1:],
               _rs(4, "2026-04-18T11:00:00Z")]
    assert rolled_back_from(objects, "shop", "checkout") == {2}
    assert undo_target(objects, "shop", "checkout", None) == 3


def test_undoing_to_a_revision_a_rollback_removed_is_refused() -> None:
    objects = _rolled_back(history=True, created=True)
    context = RuleContext(objects=objects)
    for params in ({"to_revision": 2}, {}):
        action = Action(type="rollout_undo", target="shop/deployment/checkout", params=params)
        assert [v.rule for v in check_action(action, context)] == ["undone_revision"]
    # the revision before the bad one is still a fine target
    fine = Action(type="rollout_undo", target="shop/deployment/checkout",
                  params={"to_revision": 3})
    assert check_action(fine, RuleContext(objects=[_deployment(4), *objects[1:],
                                                   _rs(4, "2026-04-18T11:00:00Z")])) == []
