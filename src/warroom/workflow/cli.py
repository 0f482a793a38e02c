"""`warroom worker`: run the incident workflows (resuming any a crash left open)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `worker` command."""
    app.command("worker")(worker)


def worker(
    concurrency: int = typer.Option(
        0, help="Global concurrency of the incident queue (0: WARROOM_WORKFLOW_CONCURRENCY)."
    ),
    metrics_port: int = typer.Option(
        None, min=0, max=65535,
        help="serve this worker's Prometheus metrics at http://HOST:PORT/metrics "
        "[default: WARROOM_WORKER_METRICS_PORT, 0: none]",
    ),
) -> None:
    """Run the durable incident workflows until interrupted; open workflows resume on start."""
    import asyncio

    from warroom.config import get_settings

    settings = get_settings()
    if concurrency:
        settings = settings.model_copy(update={"workflow_concurrency": concurrency})
    if metrics_port is not None:
        settings = settings.model_copy(update={"worker_metrics_port": metrics_port})
    asyncio.run(_run(settings))


async def _run(settings: object) -> None:
    import asyncio
    import signal

    from warroom.config import Settings
    from warroom.store.db import make_engine
    from warroom.store.migrate import upgrade
    from warroom.workflow import engine
    from warroom.workflow.runtime import Runtime

    assert isinstance(settings, Settings)
    db = make_engine(settings.effective_database_url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()
    worker = await engine.launch_async(Runtime(settings))
    metrics = None
    if settings.worker_metrics_port:
        from prometheus_client import start_http_server

        # this process's counters only: the database gauges come from the API's /metrics
        metrics, _ = start_http_server(settings.worker_metrics_port, addr=settings.host)
        typer.echo(
            f"worker metrics at http://{settings.host}:{settings.worker_metrics_port}/metrics",
            err=True,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    typer.echo(
        f"warroom worker ready: id {worker.worker_id}, "
        f"queue concurrency {settings.workflow_concurrency}, "
        f"system database {settings.effective_dbos_database_url.split('@')[-1]}",
        err=True,
    )
    await stop.wait()
    await engine.shutdown_async(worker)
    if metrics is not None:
        metrics.shutdown()
