"""`warroom bench ...`: benchmarks that start real processes and print measured figures."""

from __future__ import annotations

import typer

bench = typer.Typer(help="Benchmarks (real processes, figures measured in one run).")


@bench.command("ingest")
def ingest(
    seconds: float = typer.Option(20.0, min=1, help="how long to send alerts"),
    concurrency: int = typer.Option(4, min=1, help="concurrent webhook senders"),
    batch: int = typer.Option(100, min=1, help="alerts per webhook"),
    database_url: str = typer.Option(
        "",
        help="PostgreSQL URL to run on (a fresh database is created and dropped); "
        "default: a fresh SQLite file, the embedded default",
    ),
    alertmanager: bool = typer.Option(
        True, "--alertmanager/--no-alertmanager", help="also measure a real Alertmanager"
    ),
    worker: bool = typer.Option(
        False, "--worker/--no-worker", help="run the embedded workflow worker in the server"
    ),
    seed: int = typer.Option(7, help="seed of the alert storm"),
    new_share: float = typer.Option(
        0.10, min=0, max=1, help="share of the storm that is new alerts (the rest: re-sends "
        "and 5 % resolutions)"),
    services: int = typer.Option(41, min=1, help="distinct services the new alerts are on"),
) -> None:
    """Measure webhook ingestion: alerts/s, ack latency, peak RSS, and that nothing is lost."""
    from warroom.bench.ingest import run

    ok = run(
        seconds=seconds,
        concurrency=concurrency,
        batch=batch,
        database_url=database_url,
        alertmanager=alertmanager,
        seed=seed,
        worker=worker,
        echo=typer.echo,
        new_share=new_share,
        services=services,
    )
    if not ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the `bench` group to the warroom command."""
    from warroom.bench import (  # noqa: F401  (each adds its commands)
        llm,  # `bench llm`
        pipeline,  # `bench pipeline`
        scale,  # `bench scale` and `bench chaos`
        stats,  # `bench stats`
    )
    app.add_typer(bench, name="bench")
