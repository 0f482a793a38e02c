"""`warroom bench scale` and `warroom bench chaos`: a fleet of real processes on PostgreSQL."""

from __future__ import annotations

import typer

from warroom.bench.cli import bench

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@bench.command("scale")
def scale(
    apis: int = typer.Option(2, min=1, help="API processes (serve --no-worker)"),
    incidents: int = typer.Option(100, min=1, help="incidents per run, one webhook each"),
    postgres_url: str = typer.Option(POSTGRES, help="PostgreSQL (a fresh database per run)"),
) -> None:
    """Print incidents/s to decision ready and to closed, and p95 webhook->decision, M=1,2,4."""
    from warroom.bench.fleet_run import run_scale

    if not run_scale(apis=apis, workers=(1, 2, 4), incidents=incidents,
                     postgres_url=postgres_url, echo=typer.echo):
        raise typer.Exit(1)


@bench.command("chaos")
def chaos(
    apis: int = typer.Option(2, min=1, help="API processes (serve --no-worker)"),
    workers: int = typer.Option(3, min=1, help="workers kept running (a killed one is replaced)"),
    incidents: int = typer.Option(100, min=1, help="incidents in the storm"),
    kills: int = typer.Option(10, min=0, help="kill -9 of a random worker, at random moments"),
    outage: float = typer.Option(5.0, min=0, help="seconds PostgreSQL is unreachable (0: none)"),
    sandbox: bool = typer.Option(True, "--sandbox/--no-sandbox",
                                 help="inject faults into the sandbox so actions need approval "
                                 "and execute against its Kubernetes API"),
    postgres_url: str = typer.Option(POSTGRES, help="PostgreSQL (a fresh database is used)"),
    seed: int = typer.Option(7, help="seed of the random kills and targets"),
) -> None:
    """Kill workers and cut PostgreSQL during a storm with approvals; print what survived."""
    from warroom.bench.fleet_run import run_chaos

    if not run_chaos(apis=apis, workers=workers, incidents=incidents, kills=kills,
                     outage=outage, sandbox=sandbox, postgres_url=postgres_url, seed=seed,
                     echo=typer.echo):
        raise typer.Exit(1)
