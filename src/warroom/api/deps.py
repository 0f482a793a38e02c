"""The request dependencies, re-exported from `warroom.store.deps` for older import paths.

Contexts import `warroom.store.deps`: api sits above them (see ARCHITECTURE.md).
"""

from warroom.store.deps import (
    AppSettings,
    DbSession,
    Sessions,
    get_session,
    get_sessions,
    get_settings,
)

__all__ = ["AppSettings", "DbSession", "Sessions", "get_session", "get_sessions", "get_settings"]
