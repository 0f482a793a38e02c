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
) -> None:
    """Run the durable incident workflows until interrupted; open workflows resume on start."""
    import asyncio

    from warroom.config import get_settings

    settings = get_settings()
    if concurrency:
        settings = settings.model_copy(update={"workflow_concurrency": concurrency})
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
    fleet = await engine.launch_async(Runtime(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    typer.echo(
        f"warroom worker ready: id {fleet.worker_id}, "
        f"queue concurrency {settings.workflow_concurrency}, "
        f"system database {settings.effective_dbos_database_url.split('@')[-1]}",
        err=True,
    )
    await stop.wait()
    await engine.shutdown_async()
