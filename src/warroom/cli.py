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
    "warroom.llm.cli",  # llm check
    "warroom.mcp.cli",  # mcp
    "warroom.local_llm.cli",  # local-llm assemble|serve
)

for _name in _CONTEXTS:
    importlib.import_module(_name).register(app)
