"""When a Kubernetes API call may be sent again, and what to say when it may not.

A call is retried only when sending it twice cannot change the cluster twice:

- a read (GET, HEAD) or a server-side dry run (`dryRun=All` changes nothing) is retried after
  a 5xx, a 429, a timeout or a dropped connection;
- any call is retried when it provably never reached the API server (the connection could not
  be opened) or the server refused it before processing it (429 Too Many Requests);
- a write (PATCH, POST, PUT, DELETE) that may have reached the server — it timed out, the
  connection dropped after it was sent, or the server answered 5xx — is never sent again: the
  change may have been applied, so it fails with that reason for a human to check.

Every other answer (2xx, and 4xx such as 404, 409 Conflict or 422) is final: a 409 means the
object changed since its state was read, and sending the same call again would not fix that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

READS = frozenset({"GET", "HEAD"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})
# the failure modes of a call, as the adapter sees them
Failure = Literal["connect", "timeout", "dropped"]


@dataclass(frozen=True)
class Verdict:
    """Whether to send a call again, and why (or why not)."""

    retry: bool
    reason: str


def idempotent(method: str, *, dry_run: bool = False) -> bool:
    """Tell whether sending the call twice has the effect of sending it once."""
    return method.upper() in READS or dry_run


def classify_status(method: str, status: int, *, dry_run: bool = False) -> Verdict:
    """Judge an answer: retry, or keep it as the call's result."""
    if status == 429:
        return Verdict(True, "429: the API server refused the call before processing it")
    if status in RETRY_STATUSES:
        if idempotent(method, dry_run=dry_run):
            return Verdict(True, f"{status} on a call that changes nothing")
        return Verdict(False, f"{method} answered {status}: the change may have been applied, "
                              "so it is not sent again")
    return Verdict(False, f"{status} is final")


def classify_failure(method: str, failure: Failure, *, dry_run: bool = False) -> Verdict:
    """Judge a call that got no answer: retry, or fail with the reason."""
    if failure == "connect":
        return Verdict(True, "the connection could not be opened: the call was never sent")
    what = "timed out" if failure == "timeout" else "lost its connection"
    if idempotent(method, dry_run=dry_run):
        return Verdict(True, f"{method} {what} on a call that changes nothing")
    return Verdict(False, f"{method} {what} after it was sent: the change may have been "
                          "applied, so it is not sent again")


def backoff(attempt: int, *, base: float = 0.2, cap: float = 2.0) -> float:
    """Return the pause before retry number `attempt` (1, 2, ...): exponential, capped."""
    return float(min(cap, base * 2 ** (attempt - 1)))
