"""Pick the catalog of the configured language and show times in the configured time zone.

Messages are marked with `_()` (`from warroom.i18n.service import _`) and extracted with
`pybabel extract -F babel.cfg`; the catalogs are `locale/<lang>/LC_MESSAGES/messages.po`,
compiled in memory when first used (no binary `.mo` file to go stale). The active language
is a context variable: `activate()` sets it for the current task and what it starts.
"""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
LANGUAGES = ("en", "zh-TW")  # the source language first

_SOURCE = gettext.NullTranslations()  # the source language: messages as written
_active: ContextVar[gettext.NullTranslations | None] = ContextVar(
    "warroom_translations", default=None
)
_zone: ContextVar[str] = ContextVar("warroom_timezone", default="UTC")


def locale_name(language: str) -> str:
    """Map a language tag (`zh-TW`) to its catalog directory (`zh_TW`)."""
    return language.replace("-", "_")


def check_language(language: str) -> str:
    """Return the language when warroom has a catalog for it; say which exist otherwise."""
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    return language


def check_timezone(name: str) -> str:
    """Return the IANA time zone name when it exists (e.g. Asia/Taipei)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"time zone {name!r} is not an IANA zone such as UTC or Asia/Taipei"
        ) from None
    return name


@cache
def translations(language: str) -> gettext.NullTranslations:
    """Return the compiled catalog of `language` (the source language needs none)."""
    # lazy: cold import cost (python -X importtime): babel ~55 ms; kept off the module's import path
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    check_language(language)
    if language == LANGUAGES[0]:
        return _SOURCE
    path = LOCALE_DIR / locale_name(language) / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale_name(language))
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def activate(language: str) -> None:
    """Speak `language` in the current context (a task and the tasks it starts)."""
    _active.set(translations(language))


def _(message: str) -> str:
    """Translate a message into the active language."""
    return (_active.get() or _SOURCE).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message whose wording depends on a count into the active language."""
    return (_active.get() or _SOURCE).ngettext(singular, plural, n)


def activate_timezone(name: str) -> None:
    """Show times in the IANA zone `name` in the current context (a task and what it starts)."""
    _zone.set(check_timezone(name))


def active_timezone() -> str:
    """Return the IANA zone times are shown in for the current context (UTC by default)."""
    return _zone.get()


def local_time(value: datetime, timezone: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Show an instant in the people's time zone; a naive value is taken as UTC."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(timezone)).strftime(fmt)


def utc_offset(timezone: str, at: datetime | None = None) -> str:
    """Say the zone's offset from UTC at an instant, as `UTC+08:00`."""
    moment = (at or datetime.now(UTC)).astimezone(ZoneInfo(timezone))
    offset = moment.strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"
