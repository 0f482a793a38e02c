"""`warroom bench pipeline`: webhook -> decision ready latency, and the workflow engine's cost.

A real `warroom serve` process (embedded worker, rule backends, shadow mode) receives one
Alertmanager webhook per incident; the latency of an incident is from just before its webhook is
sent to the decision's `ready_at`. Then DBOS itself is timed in this process: a workflow of
no-op steps against the same no-op functions called directly gives the overhead per step.
"""

from __future__ import annotations

import typer

from warroom.bench.cli import bench


@bench.command("pipeline")
def pipeline(
    incidents: int = typer.Option(200, min=1, help="incidents to open, one webhook each"),
    postgres_url: str = typer.Option(
        "", help="also run on PostgreSQL (a fresh database is created and dropped)"
    ),
    steps: int = typer.Option(20, min=1, help="no-op steps per probe workflow"),
) -> None:
    """Measure webhook -> decision ready p50/p95 and the workflow engine's overhead per step."""
    # lazy: cold import cost (python -X importtime): warroom.bench.pipeline_run ~1535 ms (pulls
    # httpx, rich, sqlalchemy); kept off the module's import path
    from warroom.bench.pipeline_run import run

    ok = run(incidents=incidents, postgres_url=postgres_url, steps=steps, echo=typer.echo)
    if not ok:
        raise typer.Exit(1)
