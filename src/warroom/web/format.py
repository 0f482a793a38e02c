"""Template filters: times in the people's zone with their age, badges' words, JSON as text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from warroom.domain.models import Action, DecisionPackage
from warroom.i18n.service import _, active_timezone, local_time, utc_offset
from warroom.stats.models import change_text, seconds_text, usd_text
from warroom.store.times import utc

# decision status -> (css tone, words a tired reader needs)
DECISION_TONES: dict[str, str] = {
    "analyzing": "info", "ready": "warn", "approved": "info", "executing": "info",
    "verifying": "info", "completed": "ok", "rejected": "muted", "expired": "bad",
    "failed": "bad",
}
PRIORITY_WORDS = {"P0": "critical", "P1": "high", "P2": "medium", "P3": "low"}


def word(key: str | None) -> str:
    """Say a status, outcome, vote or level code in the people's language (unknown: as is)."""
    if not key:
        return ""
    words = {
        "analyzing": _("analyzing"), "ready": _("ready"), "approved": _("approved"),
        "executing": _("executing"), "verifying": _("verifying"), "completed": _("completed"),
        "rejected": _("rejected"), "expired": _("expired"), "failed": _("failed"),
        "auto_executed": _("auto executed"), "escalated": _("escalated"),
        "pending": _("pending"), "open": _("open"), "resolved": _("resolved"),
        "critical": _("critical"), "high": _("high"), "medium": _("medium"), "low": _("low"),
        "approve": _("approve"), "reject": _("reject"), "abstain": _("abstain"),
        "request_revision": _("request revision"), "acknowledge": _("acknowledge"),
        "decision_ready": _("decision ready"), "execution": _("execution"),
        "recovery": _("recovery"), "succeeded": _("succeeded"), "done": _("done"),
        "success": _("success"), "degraded": _("degraded"), "firing": _("firing"),
        "warning": _("warning"), "info": _("info"), "ok": _("ok"),
    }
    return words.get(key, key.replace("_", " "))
RISK_TONES = {"low": "ok", "medium": "warn", "high": "bad", "critical": "bad"}
VOTE_TONES = {"approve": "ok", "request_revision": "warn", "reject": "bad", "abstain": "muted"}


def as_utc(value: datetime | str | None) -> datetime | None:
    """Return an aware UTC datetime from a datetime or an ISO string (None passes through)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return utc(value)


def local_text(value: datetime | str | None) -> str:
    """Format a time in the active zone with its offset: `... 14:03:00 UTC+08:00` (or `UTC`)."""
    at = as_utc(value)
    if at is None:
        return "—"
    zone = active_timezone()
    if zone == "UTC":
        return at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{local_time(at, zone)} {utc_offset(zone, at)}"


def zone_text() -> str:
    """Name the active zone and its offset now, e.g. `Asia/Taipei (UTC+08:00)`."""
    zone = active_timezone()
    return "UTC" if zone == "UTC" else f"{zone} ({utc_offset(zone)})"


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
        ahead = -seconds
        if ahead < 60:
            return _("in under a minute")
        return _("in {span}").format(span=span_text(ahead))
    if seconds < 60:
        return _("just now")
    return _("{span} ago").format(span=span_text(seconds))


def span_text(seconds: int) -> str:
    """Say a span of at least a minute coarsely: `4 min`, `3 h 5 min`, `2 d`."""
    if seconds < 3600:
        return _("{minutes} min").format(minutes=seconds // 60)
    if seconds < 86400:
        return _("{hours} h {minutes} min").format(hours=seconds // 3600,
                                                   minutes=seconds % 3600 // 60)
    return _("{days} d").format(days=seconds // 86400)


def js_messages() -> dict[str, str]:
    """Return the live-refresh script's words in the active language (rendered into the page)."""
    return {
        "just_now": _("just now"), "in_under_a_minute": _("in under a minute"),
        "in": _("in {span}"), "ago": _("{span} ago"), "min": _("{minutes} min"),
        "h_min": _("{hours} h {minutes} min"), "d": _("{days} d"),
        "new_activity": _("New activity: reload the page to see it "
                          "(your form is kept until then)."),
        "updated": _("Live · updated {time}"),
        "failed": _("Live refresh failed ({error}); reload the page."),
        "unavailable": _("Live updates unavailable in this browser; reload to refresh."),
        "waiting": _("Live · waiting for events"),
        "disconnected": _("Live updates disconnected; retrying…"),
        "timezone": active_timezone(),
    }


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


def action_text(action: Action | dict[str, Any] | None) -> str:
    """Render a catalogue action (or an agent's recorded one) as `type target key=value...`."""
    if not action:
        return _("no action")
    if isinstance(action, dict):
        action = Action.model_validate(action)
    params = " ".join(f"{k}={v}" for k, v in sorted(action.params.items()))
    return " ".join(p for p in (action.type, action.target or "", params) if p)


def timeline_text(entry: dict[str, Any]) -> str:
    """Say what a timeline entry is about when the timeline's own summary says too little."""
    kind = str(entry.get("kind", ""))
    data = entry.get("data") or {}
    if kind == "agent.turn":
        vote = word(str(data["vote"])) if data.get("vote") else _("no vote")
        flags = _(" (degraded)") if data.get("degraded") else ""
        error = f": {data['error']}" if data.get("error") else ""
        return _("{role} voted {vote}").format(role=data.get("role", "agent"), vote=vote) + (
            flags + error)
    if kind == "signal.received":
        count = data.get("receive_count")
        times = f", received {count}×" if count and count > 1 else ""
        return f"{data.get('alertname') or 'alert'} {data.get('status', '')}{times}".strip()
    if kind == "debate.package":
        package = DecisionPackage.model_validate(data["package"])
        return f"{package.status}: {action_text(package.action)}, risk {package.risk}"
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
    "local": local_text, "word": word, "iso": iso, "ago": ago, "pretty_json": pretty_json,
    "percent": percent, "usd": usd_text,
    "action_text": action_text, "timeline_text": timeline_text,
}
GLOBALS = {
    "DECISION_TONES": DECISION_TONES, "PRIORITY_WORDS": PRIORITY_WORDS,
    "RISK_TONES": RISK_TONES, "VOTE_TONES": VOTE_TONES,
    "js_messages": js_messages, "zone_text": zone_text,
}
