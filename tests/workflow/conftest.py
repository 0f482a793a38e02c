"""Workflow fixtures (defined in wfkit, which the test modules also import helpers from)."""

from __future__ import annotations

import sys
from pathlib import Path

# importable whatever pytest's import mode (prepend, append or importlib)
sys.path.insert(0, str(Path(__file__).parent))

from wfkit import wf_settings, workflow_app  # noqa: E402

__all__ = ["wf_settings", "workflow_app"]
