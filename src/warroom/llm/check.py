"""`warroom llm check`: one short prompt through every configured chain, provider by provider.

Each chain is walked in order, as its fallback model would: the first provider that answers
ends the walk; every provider before it is reported with why it failed. API keys are never
printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import BaseModel

from warroom.config import LLMProvider, Settings
from warroom.llm.providers import build_model, close_model, route
from warroom.sensors.service import bounded

ROLES = ("diagnostician", "solver", "reviewer", "critic", "summary")
PROMPT = "Reply with the single word: ok"


class ProviderCheck(BaseModel):
    """How one provider did on the check prompt."""

    provider: str
    model: str
    ok: bool
    latency_ms: float
    error: str = ""
    answered_model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    reply: str = ""


class ChainCheck(BaseModel):
    """One distinct chain, the roles that use it, and each provider asked."""

    roles: list[str]
    providers: list[ProviderCheck]

    @property
    def ok(self) -> bool:
        """Tell whether some provider of the chain answered."""
        return any(p.ok for p in self.providers)


def chains(settings: Settings) -> list[tuple[list[str], list[LLMProvider]]]:
    """Return each distinct chain with the roles that route to it."""
    found: dict[tuple[str, ...], tuple[list[str], list[LLMProvider]]] = {}
    for role in ROLES:
        providers = route(settings.llm_chain_providers, settings.llm_routes, role)
        key = tuple(p.name for p in providers)
        if key not in found:
            found[key] = ([], providers)
        found[key][0].append(role)
    return [v for v in found.values() if v[1]]


async def check_provider(provider: LLMProvider, timeout: float) -> ProviderCheck:
    """Send the check prompt to one provider, within `timeout` seconds."""
    # lazy: cold import cost (python -X importtime): pydantic_ai ~1480 ms; kept off the module's
    # import path
    from pydantic_ai import Agent

    out = ProviderCheck(provider=provider.name, model=provider.model, ok=False, latency_ms=0)
    try:  # building imports the provider's SDK (seconds, once): not the provider's latency
        model = build_model(provider, timeout=timeout)
    except Exception as exc:
        out.error = _why(exc)
        return out
    started = time.perf_counter()
    try:
        result = await bounded(Agent(model, output_type=str).run(
            PROMPT, model_settings={"max_tokens": 16}), timeout)
    except TimeoutError:
        out.error = f"no answer within {timeout:g}s"
    except Exception as exc:
        out.error = _why(exc)
    else:
        usage = result.usage
        out.ok = True
        out.answered_model = str(result.response.model_name or "")
        out.input_tokens, out.output_tokens = usage.input_tokens, usage.output_tokens
        out.reply = str(result.output)[:80]
    out.latency_ms = round((time.perf_counter() - started) * 1000, 1)
    await close_model(model)
    return out


def _why(exc: BaseException) -> str:
    """Name the failure and its root cause (a refused connection hides under two wrappers)."""
    parts = [f"{type(exc).__name__}: {exc}"]
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(parts) < 4:
        parts.append(f"{type(cause).__name__}: {cause}")
        cause = cause.__cause__ or cause.__context__
    return " <- ".join(parts)[:500]


async def run_check(settings: Settings, *, timeout: float,
                    echo: Callable[[str], None]) -> list[ChainCheck]:
    """Check every chain and print, per provider, who answered or why it failed."""
    results = []
    for roles, providers in chains(settings):
        checks: list[ProviderCheck] = []
        echo(f"chain for {', '.join(roles)}: {' -> '.join(p.name for p in providers)}")
        for provider in providers:
            check = await check_provider(provider, timeout)
            checks.append(check)
            if check.ok:
                echo(f"  {check.provider} ({check.answered_model or check.model}) answered in "
                     f"{check.latency_ms:.0f} ms, {check.input_tokens} input + "
                     f"{check.output_tokens} output tokens: {check.reply!r}")
                break
            echo(f"  {check.provider} ({check.model}) FAILED after {check.latency_ms:.0f} ms: "
                 f"{check.error}")
        results.append(ChainCheck(roles=roles, providers=checks))
    return results
