"""`warroom bench llm`: what the language-model path costs beside the model, and the deadline
with a provider that hangs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from warroom.bench.cli import bench

REGRESSION = Path("scenarios/regression")


@bench.command("llm")
def llm(
    scenarios: Annotated[Path, typer.Argument(help="scenario folder to replay")] = REGRESSION,
    limit: int = typer.Option(20, min=1, help="scenarios to replay (the first, sorted)"),
    model_seconds: float = typer.Option(
        1.0, min=0.01, help="a model answer's time the overhead is compared with"),
    agent_deadline: float = typer.Option(2.0, min=0.1, help="agent deadline of the hang run"),
    debate_deadline: float = typer.Option(5.0, min=0.1, help="global deadline of the hang run"),
) -> None:
    """Measure the model path's own overhead and decision p95 with a provider that hangs."""
    # lazy: cold import cost (python -X importtime): warroom.bench.llm_run ~305 ms; kept off the
    # module's import path
    from warroom.bench.llm_run import run

    ok = run(scenarios, limit=limit, model_seconds=model_seconds,
             agent_deadline=agent_deadline, debate_deadline=debate_deadline, echo=typer.echo)
    if not ok:
        raise typer.Exit(1)
