"""The `warroom` command. Each bounded context registers its own commands from its `cli.py`.

Context CLI modules import only Typer at module level, so `warroom --help` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncSession

    from warroom.config import Settings
    from warroom.llm.debate import LanguageModels

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



async def _incident_timeline(session: AsyncSession, incident_id: str) -> str:
    """The workflow's timeline for `warroom incidents show` (ingest sits below the workflow)."""
    from warroom.workflow.timeline import incident_timeline_text

    return await incident_timeline_text(session, incident_id)


def _embed_sandbox(settings: Settings) -> tuple[Settings, Callable[[FastAPI], str]]:
    """Point `warroom serve --sandbox` at the simulated cluster (beside the product, so here)."""
    from warroom.sandbox.embed import install, prepare

    pointed, runtime = prepare(settings)

    def install_in(app: FastAPI) -> str:
        install(app, runtime)
        return (f"sandbox cluster at {runtime.url} (kubeconfig {runtime.kubeconfig_path}); "
                "inject a fault with `warroom sandbox inject FAULT`")

    return pointed, install_in


def _language_models() -> LanguageModels:
    """The debate's language models for the replays (`warroom.llm` sits above the debate)."""
    from warroom.llm.debate import LanguageModels

    return LanguageModels()


# what the command line hands a context's `register` that the context may not import itself
_WIRING: dict[str, dict[str, Any]] = {
    "warroom.api.cli": {"embed_sandbox": _embed_sandbox},
    "warroom.ingest.cli": {"timeline": _incident_timeline},
    "warroom.scenarios.cli": {"models": _language_models},
}


@app.callback()
def _configure_process() -> None:
    """Set up what every command shares: structured logs (see docs/observability.md)."""
    from warroom.config import get_settings
    from warroom.observe.logs import configure_logging

    configure_logging(get_settings())


for _name in _CONTEXTS:
    importlib.import_module(_name).register(app, **_WIRING.get(_name, {}))
