"""Web fixtures: webkit (this folder) and the workflow kit's app with its embedded worker."""

from __future__ import annotations

import sys
from pathlib import Path

# importable whatever pytest's import mode (prepend, append or importlib)
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "workflow"))

from wfkit import wf_settings, workflow_app  # noqa: E402

__all__ = ["wf_settings", "workflow_app"]
