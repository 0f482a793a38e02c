"""Which Kubernetes API calls are sent again, and what a write that may have landed says."""

from __future__ import annotations

import pytest

from warroom.kube.retry import backoff, classify_failure, classify_status, idempotent


@pytest.mark.parametrize("method", ["GET", "HEAD", "get"])
@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_a_read_is_retried_after_a_server_error(method: str, status: int) -> None:
    assert classify_status(method, status).retry


@pytest.mark.parametrize("method", ["PATCH", "POST", "PUT", "DELETE"])
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_write_answered_5xx_is_not_sent_again(method: str, status: int) -> None:
    verdict = classify_status(method, status)
    assert not verdict.retry
    assert "may have been applied" in verdict.reason and str(status) in verdict.reason


@pytest.mark.parametrize("method", ["PATCH", "POST", "DELETE"])
def test_a_dry_run_changes_nothing_so_it_is_retried(method: str) -> None:
    assert idempotent(method, dry_run=True) and not idempotent(method)
    assert classify_status(method, 500, dry_run=True).retry
    assert classify_failure(method, "timeout", dry_run=True).retry
    assert classify_failure(method, "dropped", dry_run=True).retry


@pytest.mark.parametrize("status", [200, 201, 404, 409, 422, 403])
@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_answers_that_are_not_server_errors_are_final(status: int, method: str) -> None:
    assert not classify_status(method, status).retry


def test_a_write_refused_with_429_was_not_processed_so_it_is_retried() -> None:
    assert classify_status("PATCH", 429).retry


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_a_call_that_never_left_is_retried_whatever_it_does(method: str) -> None:
    assert classify_failure(method, "connect").retry


@pytest.mark.parametrize("failure", ["timeout", "dropped"])
def test_a_write_that_timed_out_or_lost_its_connection_fails_with_the_reason(
        failure: str) -> None:
    verdict = classify_failure("PATCH", failure)  # type: ignore[arg-type]
    assert not verdict.retry
    assert "after it was sent" in verdict.reason and "not sent again" in verdict.reason
    assert classify_failure("GET", failure).retry  # type: ignore[arg-type]


def test_the_pause_grows_and_is_capped() -> None:
    pauses = [backoff(n) for n in range(1, 8)]
    assert pauses == sorted(pauses) and pauses[0] < pauses[1] and max(pauses) == 2.0
