"""What a CLI command sends to warroom's API: the token from `WARROOM_TOKEN` or `token_file`."""

from __future__ import annotations

from warroom.config import Settings, get_settings


def auth_headers(settings: Settings | None = None) -> dict[str, str]:
    """Return the Authorization header for the configured token (none when there is none).

    Raises `ValueError` naming the file when `token_file` cannot be read.
    """
    token = (settings or get_settings()).cli_token()
    return {"Authorization": f"Bearer {token}"} if token else {}


def refusal_hint(status_code: int) -> str:
    """Return what to do about a 401 or 403 from warroom, or an empty string."""
    if status_code == 401:
        return (" (set WARROOM_TOKEN, or WARROOM_TOKEN_FILE, to a token from "
                "`warroom tokens create`)")
    if status_code == 403:
        return " (the token's user lacks the role: `warroom users add NAME --role ROLE`)"
    return ""
