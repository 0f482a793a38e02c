from __future__ import annotations

from datetime import timedelta

from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.templates import (
    chronic_places,
    template_scores,
    template_shifts,
)

from .diag_builders import NOW, logs, snapshot


def stamp(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_a_new_error_template_is_evidence_and_a_chronic_one_is_noise() -> None:
    onset = NOW - timedelta(minutes=10)
    chronic = [f"{stamp(30 - i)} ERROR cache miss for key user-{i * 7919}" for i in range(30)]
    fresh = [f"{stamp(9 - i * 0.5)} ERROR payment 4{i}1 rejected: gateway unavailable"
             for i in range(12)]
    chatter = [f"{stamp(30 - i)} INFO GET /items/{i} 200" for i in range(30)]
    snap = snapshot(logs=[logs("shop", "pay-7f9dd8b6c4-aaaaa", chatter + chronic + fresh),
                          logs("shop", "cart-7f9dd8b6c4-bbbbb", chatter + chronic)])
    shifts = template_shifts(Index.build(snap), onset)
    assert {s.entity for s in shifts} == {("shop", "pay")}
    (only,) = shifts
    assert only.before == 0 and only.after == 12 and "rejected" in only.template
    scores = template_scores(shifts)
    assert scores[("shop", "pay")][0] >= 0.5


def test_thousands_of_lines_are_mined() -> None:
    lines = [f"{stamp(60 - i * 0.01)} ERROR timeout calling inventory after {i % 900} ms"
             for i in range(5000)]
    snap = snapshot(logs=[logs("shop", "api-7f9dd8b6c4-aaaaa", lines)])
    shifts = template_shifts(Index.build(snap), NOW - timedelta(minutes=30))
    # the same template before and after at the same rate: chronic, no evidence
    assert template_scores(shifts) == {}


def test_a_place_logging_errors_at_its_usual_rate_is_chronic() -> None:
    onset = NOW - timedelta(minutes=10)
    steady = [f"{stamp(30 - i)} ERROR cache miss for key user-{i * 7919}" for i in range(30)]
    fresh = [f"{stamp(9 - i * 0.5)} ERROR payment 4{i}1 rejected: gateway unavailable"
             for i in range(12)]
    ended = [f"{stamp(25 - i * 0.5)} ERROR lookup failed for {i}" for i in range(8)]
    ix = Index.build(snapshot(logs=[logs("shop", "cart-7f9dd8b6c4-bbbbb", steady),
                                    logs("shop", "pay-7f9dd8b6c4-aaaaa", steady + fresh),
                                    logs("shop", "ledger-7f9dd8b6c4-ccccc", ended)]))
    scores = template_scores(template_shifts(ix, onset))
    # cart: as many errors before as after; pay: a new template surged, so not chronic;
    # ledger: its window ends before the onset, so after-onset rate is unknown, not low
    assert chronic_places(ix, onset, scores) == {("shop", "cart")}
