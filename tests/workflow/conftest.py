"""Workflow fixtures (defined in wfkit, shared with other test folders)."""

from __future__ import annotations

from wfkit import wf_settings, workflow_app

__all__ = ["wf_settings", "workflow_app"]
