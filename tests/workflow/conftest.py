"""Workflow fixtures (defined in wfkit, shared with other test folders)."""

from __future__ import annotations

from wfkit import drop_dbos_schema, wf_settings, workflow_app

__all__ = ["drop_dbos_schema", "wf_settings", "workflow_app"]
