"""Notify fixtures (defined in chatkit, which the test modules also import helpers from)."""

from __future__ import annotations

import sys
from pathlib import Path

# importable whatever pytest's import mode (prepend, append or importlib)
sys.path.insert(0, str(Path(__file__).parent))

from chatkit import chat_app, wf_settings  # noqa: E402

__all__ = ["chat_app", "wf_settings"]
