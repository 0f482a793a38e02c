"""`warroom serve`: the API (and, unless `--no-worker`, the embedded workflow worker).

`serve --sandbox` runs the simulated cluster beside the app. The sandbox sits beside the
product, which never imports it: `warroom.cli` hands `register` the function that embeds it.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from fastapi import FastAPI

    from warroom.config import Settings

# settings -> (the settings pointed at the embedded sandbox, install it in the app: the line to
# print)
SandboxEmbed = Callable[["Settings"], tuple["Settings", Callable[["FastAPI"], str]]]


@asynccontextmanager
async def freeze_startup_heap(_app: Any) -> AsyncIterator[None]:
    """Hide everything built at start-up from the cyclic garbage collector.

    The server's long-lived objects (modules, SQLAlchemy metadata, the workflow engine) would
    otherwise be traversed by every full collection: under an alert storm those pauses cost
    about a tenth of the CPU and add up to 100 ms to single acknowledgements.
    """
    gc.collect()
    gc.freeze()
    yield


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def exposure_refusal(host: str, *, auth_enabled: bool) -> str | None:
    """Say why `serve` must not listen on `host`, or None when it may.

    Without authentication anyone who reaches the port could approve a rollback: only a
    loopback address is allowed then.
    """
    if auth_enabled or host in LOOPBACK or host.startswith("127."):
        return None
    return (f"refusing to listen on {host} with authentication off: anyone reaching it could "
            "approve actions. Set WARROOM_AUTH_ENABLED=true (the default) and create a token "
            "with `warroom tokens create --name NAME --role admin`, or listen on 127.0.0.1 "
            "(WARROOM_HOST / --host).")


def serve(
    host: str = typer.Option(None, help="listen address [default: settings.host, 127.0.0.1]"),
    port: int = typer.Option(None, help="listen port [default: settings.port, 8080]"),
    no_worker: bool = typer.Option(
        False, "--no-worker", help="serve the API only; run workflows in `warroom worker`"
    ),
    access_log: bool = typer.Option(False, "--access-log", help="log every request"),
    sandbox: bool = typer.Option(
        False, "--sandbox",
        help="run against the built-in simulated cluster: its Kubernetes and Prometheus APIs "
        "feed the sensors, its alerts post here, and approved actions change it (shadow mode "
        "is off, since nothing real is touched)",
    ),
) -> None:
    """Serve the HTTP API; the database is migrated on start."""
    _serve(host=host, port=port, no_worker=no_worker, access_log=access_log, sandbox=sandbox,
           embed_sandbox=None)


def _serve(*, host: str | None, port: int | None, no_worker: bool, access_log: bool,
           sandbox: bool, embed_sandbox: SandboxEmbed | None) -> None:
    import uvicorn

    from warroom.api.app import container_of, create_app
    from warroom.config import get_settings

    settings = get_settings()
    update: dict[str, object] = {}
    if host:
        update["host"] = host
    if port:
        update["port"] = port
    if no_worker:
        update["embedded_worker"] = False
    settings = settings.model_copy(update=update)
    refused = exposure_refusal(settings.host, auth_enabled=settings.auth_enabled)
    if refused is not None:
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(2)
    if not settings.ingest_auth and settings.host not in LOOPBACK:
        typer.echo(f"warning: the webhooks accept alerts without a token on {settings.host} "
                   "(WARROOM_INGEST_AUTH=false)", err=True)
    install = None
    if sandbox:
        if embed_sandbox is None:
            typer.echo("error: --sandbox: this command line has no sandbox to embed", err=True)
            raise typer.Exit(2)
        settings, install = embed_sandbox(settings)
    app = create_app(settings)
    if install is not None:
        typer.echo(install(app))
    container_of(app).lifespan_hooks.append(freeze_startup_heap)  # last: after every other start-up
    typer.echo(
        f"warroom listening on http://{settings.host}:{settings.port} "
        f"(database {settings.effective_database_url.split('@')[-1]}); "
        f"Alertmanager webhook: http://{settings.host}:{settings.port}/api/v1/alerts/alertmanager"
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=access_log,
        log_config=None,  # uvicorn's loggers go through warroom's structured logs
    )


def register(app: typer.Typer, *, embed_sandbox: SandboxEmbed | None = None) -> None:
    """Add `serve` to the warroom command; `--sandbox` runs `embed_sandbox` when given."""

    @functools.wraps(serve)
    def serve_command(**options: Any) -> None:
        _serve(**options, embed_sandbox=embed_sandbox)

    app.command("serve")(serve_command)
