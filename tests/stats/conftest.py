"""Stats fixtures: the workflow kit's app, and the stats kit's client fixture."""

from __future__ import annotations

import sys
from pathlib import Path

# importable whatever pytest's import mode (prepend, append or importlib)
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "workflow"))

from statskit import stats_app  # noqa: E402
from wfkit import wf_settings, workflow_app  # noqa: E402

__all__ = ["stats_app", "wf_settings", "workflow_app"]
