"""`warroom approve TOKEN` / `warroom reject TOKEN`: answer a decision through the HTTP API."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `approve` and `reject` commands."""
    app.command("approve")(approve)
    app.command("reject")(reject)


def _url(url: str | None) -> str:
    if url:
        return url.rstrip("/")
    from warroom.config import get_settings

    settings = get_settings()
    return f"http://{settings.host}:{settings.port}"


def _answer(token: str, verdict: str, comment: str, url: str | None) -> None:
    import httpx

    from warroom.access.client import auth_headers, refusal_hint

    base = _url(url)
    try:
        response = httpx.post(
            f"{base}/api/v1/decisions/{token}/{verdict}",
            json={"comment": comment, "via": "cli"},
            headers=auth_headers(),
            timeout=10.0,
        )
    except ValueError as exc:  # the token file cannot be read
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except httpx.HTTPError as exc:
        typer.echo(f"error: cannot reach warroom at {base}: {exc}", err=True)
        raise typer.Exit(2) from exc
    if response.status_code != 200:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        typer.echo(f"error: {verdict} {token}: HTTP {response.status_code}: {detail}"
                   f"{refusal_hint(response.status_code)}", err=True)
        raise typer.Exit(1)
    body = response.json()
    approvals = ", ".join(f"{a['approver']} ({a['verdict']})" for a in body.get("approvals", []))
    typer.echo(f"decision {token}: {body['status']}; answers so far: {approvals or 'none'}")


def approve(
    token: str = typer.Argument(..., help="The decision token."),
    comment: str = typer.Option("", "-m", "--comment", help="Why."),
    url: str = typer.Option(None, help="warroom's base URL (default: http://HOST:PORT)."),
) -> None:
    """Approve a ready decision as the user of WARROOM_TOKEN (recorded in the audit trail)."""
    _answer(token, "approve", comment, url)


def reject(
    token: str = typer.Argument(..., help="The decision token."),
    comment: str = typer.Option("", "-m", "--comment", help="Why."),
    url: str = typer.Option(None, help="warroom's base URL (default: http://HOST:PORT)."),
) -> None:
    """Reject a ready decision as the user of WARROOM_TOKEN; it will never execute."""
    _answer(token, "reject", comment, url)
