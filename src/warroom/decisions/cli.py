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


def _answer(token: str, verdict: str, approver: str, comment: str, url: str | None) -> None:
    import httpx

    base = _url(url)
    try:
        response = httpx.post(
            f"{base}/api/v1/decisions/{token}/{verdict}",
            json={"approver": approver, "comment": comment, "via": "cli"},
            timeout=10.0,
        )
    except httpx.HTTPError as exc:
        typer.echo(f"error: cannot reach warroom at {base}: {exc}", err=True)
        raise typer.Exit(2) from exc
    if response.status_code != 200:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        typer.echo(f"error: {verdict} {token}: HTTP {response.status_code}: {detail}", err=True)
        raise typer.Exit(1)
    body = response.json()
    approvals = ", ".join(f"{a['approver']} ({a['verdict']})" for a in body.get("approvals", []))
    typer.echo(f"decision {token}: {body['status']}; answers so far: {approvals or 'none'}")


def approve(
    token: str = typer.Argument(..., help="The decision token."),
    approver: str = typer.Option(..., "--as", help="Who approves (recorded in the audit trail)."),
    comment: str = typer.Option("", "-m", "--comment", help="Why."),
    url: str = typer.Option(None, help="warroom's base URL (default: http://HOST:PORT)."),
) -> None:
    """Approve a ready decision."""
    _answer(token, "approve", approver, comment, url)


def reject(
    token: str = typer.Argument(..., help="The decision token."),
    approver: str = typer.Option(..., "--as", help="Who rejects (recorded in the audit trail)."),
    comment: str = typer.Option("", "-m", "--comment", help="Why."),
    url: str = typer.Option(None, help="warroom's base URL (default: http://HOST:PORT)."),
) -> None:
    """Reject a ready decision; it will never execute."""
    _answer(token, "reject", approver, comment, url)
