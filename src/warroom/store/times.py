"""The one "make this datetime UTC" helper, for values read back from either database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_ZERO = timedelta(0)


def utc(value: datetime) -> datetime:
    """Return `value` as an aware UTC datetime (SQLite hands back naive UTC values)."""
    zone = value.tzinfo
    if zone is UTC:
        return value
    if zone is None or zone.utcoffset(value) == _ZERO:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
