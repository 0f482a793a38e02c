"""`warroom llm check`: is every configured language-model chain reachable, and how fast."""

from __future__ import annotations

from typing import Annotated

import typer

llm_app = typer.Typer(help="Language-model providers: check them.", no_args_is_help=True)


@llm_app.command("check")
def check(
    timeout: Annotated[float, typer.Option(min=0.1, help="seconds each provider may take")]
    = 10.0,
) -> None:
    """Send one short prompt through each configured chain; print who answered, or why not."""
    import asyncio

    from warroom.config import get_settings
    from warroom.llm.check import chains, run_check
    from warroom.llm.providers import ProviderError

    settings = get_settings()
    try:
        if not chains(settings):
            typer.echo("no language-model provider is configured: set WARROOM_LLM_MODEL (and "
                       "WARROOM_LLM_BASE_URL) or WARROOM_LLM_PROVIDERS; see docs/models.md",
                       err=True)
            raise typer.Exit(2)
        results = asyncio.run(run_check(settings, timeout=timeout, echo=typer.echo))
    except ProviderError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the `llm` group to the warroom command."""
    app.add_typer(llm_app, name="llm")
