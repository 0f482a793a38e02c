"""The one settings object (`Settings`, read from `WARROOM_*` variables) and the values it holds.

`settings.py` holds the settings, `models.py` the structured values some of them take.
"""

from warroom.config.models import (
    AgentBackend,
    LLMProvider,
    MCPServerConfig,
    NotifyRoute,
    WebhookTarget,
)
from warroom.config.settings import Settings, get_settings

__all__ = [
    "AgentBackend", "LLMProvider", "MCPServerConfig", "NotifyRoute", "Settings", "WebhookTarget",
    "get_settings",
]
