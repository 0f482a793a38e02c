"""Template filters: UTC times with their age, badges' words, JSON shown as text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from warroom.stats.models import change_text, seconds_text

# decision status -> (css tone, words a tired reader needs)
DECISION_TONES: dict[str, str] = {
    "analyzing": "info", "ready": "warn", "approved": "info", "executing": "info",
    "verifying": "info", "completed": "ok", "rejected": "muted", "expired": "bad",
    "failed": "bad",
}
PRIORITY_WORDS = {"P0": "critical", "P1": "high", "P2": "medium", "P3": "low"}
RISK_TONES = {"low": "ok", "medium": "warn", "high": "bad", "critical": "bad"}
VOTE_TONES = {"approve": "ok", "request_revision": "warn", "reject": "bad", "abstain": "muted"}


def as_utc(value: datetime | str | None) -> datetime | None:
    """Return an aware UTC datetime from a datetime or an ISO string (None passes through)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_text(value: datetime | str | None) -> str:
    """Format a time as `YYYY-MM-DD HH:MM:SS UTC`."""
    at = as_utc(value)
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "—"


def iso(value: datetime | str | None) -> str:
    """Format a time for a `<time datetime>` attribute."""
    at = as_utc(value)
    return at.isoformat().replace("+00:00", "Z") if at else ""


def ago(value: datetime | str | None, now: datetime | None = None) -> str:
    """Say how long ago a time was, coarsely (`just now`, `4 min ago`, `3 h ago`, `2 d ago`)."""
    at = as_utc(value)
    if at is None:
        return ""
    seconds = int(((now or datetime.now(UTC)) - at).total_seconds())
    if seconds < 0:
        return "in " + ago(now or datetime.now(UTC), at).removesuffix(" ago").replace(
            "just now", "under a minute")
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min ago"
    return f"{seconds // 86400} d ago"


def pretty_json(value: Any) -> str:
    """Render a value as indented JSON text (the template escapes it)."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
                        default=str).decode()


def percent(value: Any) -> str:
    """Render a 0..1 ratio as a whole percentage."""
    try:
        return f"{float(value) * 100:.0f}%"
    except (TypeError, ValueError):
        return "—"


def action_text(action: dict[str, Any] | None) -> str:
    """Render a catalogue action as `type target key=value...`."""
    if not action:
        return "no action"
    params = " ".join(f"{k}={v}" for k, v in sorted((action.get("params") or {}).items()))
    return " ".join(p for p in (str(action.get("type")), action.get("target") or "", params) if p)


def timeline_text(entry: dict[str, Any]) -> str:
    """Say what a timeline entry is about when the timeline's own summary says too little."""
    kind = str(entry.get("kind", ""))
    data = entry.get("data") or {}
    if kind == "agent.turn":
        vote = str(data.get("vote") or "no vote").replace("_", " ")
        flags = " (degraded)" if data.get("degraded") else ""
        error = f": {data['error']}" if data.get("error") else ""
        return f"{data.get('role', 'agent')} voted {vote}{flags}{error}"
    if kind == "signal.received":
        count = data.get("receive_count")
        times = f", received {count}×" if count and count > 1 else ""
        return f"{data.get('alertname') or 'alert'} {data.get('status', '')}{times}".strip()
    if kind == "debate.package":
        package = data.get("package") or {}
        return (f"{package.get('status', '')}: {action_text(package.get('action'))}, "
                f"risk {package.get('risk', '?')}")
    summary = str(entry.get("summary") or "")
    if summary:
        return summary
    if kind.startswith("decision.") and data.get("from"):
        return f"from {data['from']}"
    scalars = [f"{k}={v}" for k, v in data.items() if isinstance(v, str | int | float | bool)]
    return ", ".join(scalars[:4])


def milliseconds(value: float | None) -> str:
    """Render a latency given in milliseconds the way durations read everywhere else."""
    return seconds_text(None if value is None else value / 1000)


FILTERS: dict[str, Callable[..., str]] = {
    "seconds": seconds_text, "change": change_text, "ms": milliseconds,
    "utc": utc_text, "iso": iso, "ago": ago, "pretty_json": pretty_json, "percent": percent,
    "action_text": action_text, "timeline_text": timeline_text,
}
GLOBALS = {
    "DECISION_TONES": DECISION_TONES, "PRIORITY_WORDS": PRIORITY_WORDS,
    "RISK_TONES": RISK_TONES, "VOTE_TONES": VOTE_TONES,
}
