"""The demo's terminal account in the people's language and time zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from warroom.config import Settings
from warroom.sandbox.demo import run_demo


def _hour(zone: str) -> str:
    return datetime.now(UTC).astimezone(ZoneInfo(zone)).strftime("%H")


async def test_the_account_reads_in_traditional_chinese_with_taipei_times(
    tmp_path: Path,
) -> None:
    console = Console(record=True, width=200)
    settings = Settings(_env_file=None, language="zh-TW", timezone="Asia/Taipei")  # type: ignore[call-arg]
    hours = {_hour("Asia/Taipei")}
    runs = await run_demo(settings, faults=1, auto_approve=True, headless=True,
                          console=console, home=tmp_path, fault_timeout=60)
    hours.add(_hour("Asia/Taipei"))
    text = console.export_text()
    [run] = runs
    assert run.complete, text
    assert "時間以 Asia/Taipei（UTC+08:00）顯示" in text  # the banner names the zone and offset
    assert "已將 bad_deploy 注入" in text
    assert "由 demo-policy 核准" in text
    assert "根因已排除" in text
    assert "warroom 示範" in text and "診斷" in text and "驗證結果" in text  # the summary table
    stages = "故障|事件|假設|決策|核准|執行|驗證|結案"
    clocks = re.findall(rf"^(\d\d):\d\d:\d\d +(?:{stages})", text, re.M)
    assert clocks and set(clocks) <= hours, (clocks, hours)
    assert _hour("UTC") not in hours  # Taipei is never on UTC's hour: the clock is local
    # machine-facing output stays language-neutral: the API's words are unchanged
    assert run.verification.startswith("success")
