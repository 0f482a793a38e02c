from integration.services import alertmanager_binary, chromium_binary, prometheus_binary

__all__ = ["alertmanager_binary", "chromium_binary", "prometheus_binary"]
