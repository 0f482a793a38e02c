"""Observability fixtures: the workflow kit (the real app and worker) and promtool."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# the workflow test kit drives one incident through the real app and its embedded worker
sys.path.insert(0, str(Path(__file__).parents[1] / "workflow"))
sys.path.insert(0, str(Path(__file__).parent))

from otlpkit import otlp, spans  # noqa: E402
from wfkit import wf_settings, workflow_app  # noqa: E402

from integration.services import prometheus_binary  # noqa: E402


@pytest.fixture(scope="session")
def promtool(prometheus_binary: str) -> str:
    """The promtool binary that Debian's prometheus package ships next to prometheus."""
    return str(Path(prometheus_binary).with_name("promtool"))


__all__ = ["otlp", "prometheus_binary", "promtool", "spans", "wf_settings", "workflow_app"]
