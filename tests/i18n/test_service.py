"""The catalogs: complete for every message marked in the code, and times in the people's zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from warroom.config import Settings
from warroom.i18n import service
from warroom.i18n.service import LANGUAGES, LOCALE_DIR, _, activate, local_time, utc_offset

ROOT = Path(__file__).resolve().parents[2]


def marked_messages() -> set[str | tuple[str, ...]]:
    """Every message the code and the templates mark, as `pybabel extract -F babel.cfg` does."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = extract_from_dir(ROOT, method_map=method_map, options_map=options_map)
    return {m for _file, _line, m, _comments, _context in found}


PLACEHOLDER = re.compile(r"\{(\w+)[^}]*\}|%\((\w+)\)s")


def placeholders(text: str) -> set[str]:
    """Name the `{field}` and `%(field)s` placeholders of a message."""
    return {a or b for a, b in PLACEHOLDER.findall(text)}


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_every_marked_message_is_translated(language: str) -> None:
    path = LOCALE_DIR / service.locale_name(language) / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        catalog = read_po(po)
    entries = {m.id: m for m in catalog if m.id}
    marked = marked_messages()
    assert marked, "no message is marked for translation"
    assert marked - set(entries) == set(), "run pybabel extract and update: missing messages"
    untranslated = [m.id for m in entries.values()
                    if m.fuzzy or not all(m.string if isinstance(m.string, tuple) else (m.string,))]
    assert untranslated == []
    assert set(entries) - marked == set(), "messages no code uses any more"
    # placeholders survive translation: a renamed or missing field fails at run time
    for message in entries.values():
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for translated in strings:
            assert placeholders(translated) == placeholders(ids[-1]), message.id


def test_the_active_language_translates_and_english_is_the_source() -> None:
    activate("zh-TW")
    try:
        assert _("fault") == "故障"
    finally:
        activate("en")
    assert _("fault") == "fault"
    assert _("a message nobody marked") == "a message nobody marked"


def test_times_read_in_the_configured_zone() -> None:
    at = datetime(2026, 12, 4, 18, 30, 5, tzinfo=UTC)
    assert local_time(at, "Asia/Taipei") == "2026-12-05 02:30:05"
    assert local_time(at.replace(tzinfo=None), "UTC", "%H:%M:%S") == "18:30:05"
    assert utc_offset("Asia/Taipei", at) == "UTC+08:00"
    assert utc_offset("America/New_York", at) == "UTC-05:00"


def test_settings_refuse_an_unknown_language_or_zone() -> None:
    ok = Settings(_env_file=None, language="zh-TW", timezone="Asia/Taipei")  # type: ignore[call-arg]
    assert (ok.language, ok.timezone) == ("zh-TW", "Asia/Taipei")
    with pytest.raises(ValueError, match="language 'fr' is not one of en, zh-TW"):
        Settings(_env_file=None, language="fr")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="time zone 'Mars/Olympus' is not an IANA zone"):
        Settings(_env_file=None, timezone="Mars/Olympus")  # type: ignore[call-arg]
