"""The `warroom` command. Each bounded context registers its own commands from its `cli.py`.

Context CLI modules import only Typer at module level, so `warroom --help` stays fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="warroom",
    help="Self-hosted incident response for Kubernetes and Prometheus.",
    no_args_is_help=True,
    add_completion=False,
)

_CONTEXTS = (
    "warroom.api.cli",  # serve
    "warroom.store.cli",  # db upgrade
    "warroom.ingest.cli",  # incidents list|show
    "warroom.scenarios.cli",  # replay, eval, scenarios generate
    "warroom.workflow.cli",  # worker
    "warroom.decisions.cli",  # approve, reject
    "warroom.sandbox.cli",  # sandbox ..., demo
    "warroom.bench.cli",  # bench ingest|pipeline
    "warroom.access.cli",  # tokens create|list|revoke, users add|list|disable
    "warroom.llm.cli",  # llm check
    "warroom.stats.cli",  # stats
    "warroom.mcp.cli",  # mcp
    "warroom.local_llm.cli",  # local-llm assemble|serve
)



@app.callback()
def _configure_process() -> None:
    """Set up what every command shares: structured logs (see docs/observability.md)."""
    from warroom.config import get_settings
    from warroom.observe.logs import configure_logging

    configure_logging(get_settings())


for _name in _CONTEXTS:
    importlib.import_module(_name).register(app)
