"""`warroom serve`: the API (and, unless `--no-worker`, the embedded workflow worker)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import typer


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
    runtime = None
    if sandbox:
        from warroom.sandbox.embed import prepare

        settings, runtime = prepare(settings)
    app = create_app(settings)
    if runtime is not None:
        from warroom.sandbox.embed import install

        install(app, runtime)
        typer.echo(
            f"sandbox cluster at {runtime.url} (kubeconfig {runtime.kubeconfig_path}); "
            "inject a fault with `warroom sandbox inject FAULT`"
        )
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


def register(app: typer.Typer) -> None:
    """Add `serve` to the warroom command."""
    app.command("serve")(serve)
