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
    # lazy: cold import cost (python -X importtime): warroom.bench.fleet_run ~1989 ms (pulls
    # aiohttp, httpx, rich, sqlalchemy, starlette, uvicorn); kept off the module's import path
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
    kube_faults: float = typer.Option(
        0.3, min=0, max=1, help="with the sandbox: share of writes and dry runs the Kubernetes "
        "API answers with 500 or 409, a timeout or a dropped connection (reads: a fifth of "
        "it); 0: none"),
    redis_url: str = typer.Option(
        "", help="fan events out to this Redis through a proxy cut mid-storm (empty: no Redis)"),
    settle: float = typer.Option(240.0, min=1, help="seconds allowed, after the storm, for "
                                 "every decision to close"),
    model_outage: int = typer.Option(
        0, min=0, help="then run this many incidents with language-model agents whose "
        "providers hang or refuse (0: skip)"),
) -> None:
    """Kill workers and cut PostgreSQL, Redis, the Kubernetes API and the model; print what
    survived."""
    # lazy: cold import cost (python -X importtime): warroom.bench.fleet_run ~2128 ms (pulls
    # aiohttp, httpx, rich, sqlalchemy, starlette, uvicorn); kept off the module's import path
    from warroom.bench.fleet_run import run_chaos

    if not run_chaos(apis=apis, workers=workers, incidents=incidents, kills=kills,
                     outage=outage, sandbox=sandbox, postgres_url=postgres_url, seed=seed,
                     echo=typer.echo, kube_fault_rate=kube_faults, redis_url=redis_url,
                     model_outage=model_outage, settle=settle):
        raise typer.Exit(1)
