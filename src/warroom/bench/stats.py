"""`warroom bench stats`: seed a long incident history, then time every stats endpoint.

Each database (a fresh SQLite file, and a fresh PostgreSQL database with `--database-url`) gets
the same seeded history; the real app then answers each endpoint in process, for the default
7-day window and for the whole history. The bar: every endpoint under 500 ms.
"""

from __future__ import annotations

import typer

from warroom.bench.cli import bench


@bench.command("stats")
def stats(
    incidents: int = typer.Option(100_000, min=1, help="incidents to seed"),
    days: float = typer.Option(365.0, min=1, help="days of history they spread over"),
    database_url: str = typer.Option(
        "", help="also run on PostgreSQL (a fresh database is created and dropped)"),
    repeat: int = typer.Option(
        8, min=1, help="timed requests per endpoint and window (PostgreSQL may switch a "
        "prepared statement to a generic plan from its sixth run: keep it in the sample)"),
    seed: int = typer.Option(7, help="seed of the generated history"),
) -> None:
    """Time each stats endpoint over a seeded history; fail when one takes over 500 ms."""
    # lazy: stats_run costs ~1585 ms cold (python -X importtime); only this command needs it
    from warroom.bench.stats_run import run

    ok = run(incidents=incidents, days=days, database_url=database_url, repeat=repeat,
             seed=seed, echo=typer.echo)
    if not ok:
        raise typer.Exit(1)
