"""Turn configured providers into pydantic-ai models and fallback chains.

Provider SDKs cost seconds to import, so each is imported only when a provider of its kind is
configured. Every client is built without SDK retries: a dead endpoint must fail in
milliseconds and hand over to the next provider (or to the rule answer), not retry for seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from warroom.config import LLMProvider
from warroom.local_llm.client import schema_grammar

if TYPE_CHECKING:
    from pydantic_ai.models import Model

class ProviderError(Exception):
    """A provider entry that cannot be built; the message names it and the field."""


def build_model(provider: LLMProvider, *, timeout: float = 600.0) -> Model:
    """Return the pydantic-ai model for one provider entry."""
    if provider.kind == "test":
        # lazy: cold import cost (python -X importtime): warroom.llm.scripted ~1330 ms (pulls httpx,
        # opentelemetry, pydantic_ai, rich); kept off the module's import path
        from warroom.llm.scripted import scripted_model

        return scripted_model(provider.model)
    if provider.kind in ("openai", "llama_cpp"):
        return _openai(provider, timeout)
    if provider.kind == "anthropic":
        return _anthropic(provider, timeout)
    if provider.kind == "google":
        return _google(provider)
    raise ProviderError(f"provider {provider.name}: unknown kind {provider.kind!r}")


def _openai(provider: LLMProvider, timeout: float) -> Model:
    # lazy: cold import cost (python -X importtime): openai ~970 ms, pydantic_ai openai model ~2100
    # ms; kept off the module's import path
    from openai import AsyncOpenAI
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.profiles.openai import OpenAIModelProfile
    from pydantic_ai.providers.openai import OpenAIProvider

    if not provider.base_url and not provider.key():
        raise ProviderError(f"provider {provider.name}: set base_url (a local server) or an "
                            "API key (OpenAI)")
    client = AsyncOpenAI(base_url=provider.base_url or None, api_key=provider.key() or "none",
                         max_retries=0, timeout=timeout)
    # only OpenAI itself reads `max_completion_tokens`; Ollama, vLLM and llama.cpp read
    # `max_tokens` (llama.cpp ignores the other field and writes until its context is full)
    profile: Any = OpenAIModelProfile(
        openai_chat_supports_max_completion_tokens=is_openai(provider.base_url))
    settings: Any = None
    if provider.kind == "llama_cpp":
        # llama.cpp's server also rejects json_schema formats and does not enforce
        # tool_choice: ask for a JSON object, the schema in the prompt
        profile = OpenAIModelProfile(openai_chat_supports_max_completion_tokens=False)
        settings = {"extra_body": {"response_format": {"type": "json_object"}}}
    model = OpenAIChatModel(provider.model, provider=OpenAIProvider(openai_client=client),
                            profile=profile, settings=settings)
    if provider.kind == "llama_cpp":
        return schema_grammar(model)  # each answer's own schema, compiled into a grammar
    return model


def is_openai(base_url: str) -> bool:
    """Tell whether a base URL is OpenAI's own API (no base URL means OpenAI)."""
    host = (urlsplit(base_url).hostname or "") if base_url else "api.openai.com"
    return host == "api.openai.com" or host.endswith(".openai.azure.com")


def output_mode(provider: LLMProvider) -> str:
    """Return how to ask this provider for a structured answer."""
    if provider.kind == "llama_cpp" and provider.output_mode == "tool":
        return "prompted"  # its server does not enforce tool calls
    return provider.output_mode


def _anthropic(provider: LLMProvider, timeout: float) -> Model:
    # lazy: cold import cost (python -X importtime): anthropic ~2100 ms, pydantic_ai anthropic model
    # ~3450 ms; kept off the module's import path
    from anthropic import AsyncAnthropic
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    if not provider.key():
        raise ProviderError(f"provider {provider.name}: api_key or api_key_file is required")
    client = AsyncAnthropic(api_key=provider.key(), base_url=provider.base_url or None,
                            max_retries=0, timeout=timeout)
    return AnthropicModel(provider.model, provider=AnthropicProvider(anthropic_client=client))


def _google(provider: LLMProvider) -> Model:
    # lazy: cold import cost (python -X importtime): pydantic_ai google model ~2250 ms; kept off the
    # module's import path
    from pydantic_ai.models.google import GoogleModel
    from pydantic_ai.providers.google import GoogleProvider

    if not provider.key():
        raise ProviderError(f"provider {provider.name}: api_key or api_key_file is required")
    return GoogleModel(provider.model, provider=GoogleProvider(
        api_key=provider.key(), base_url=provider.base_url or None))


def build_chain(providers: list[LLMProvider], *, timeout: float = 600.0) -> Model:
    """Return one model for a chain: the first provider, falling back to the next on failure."""
    if not providers:
        raise ProviderError("no language-model provider is configured")
    models = [build_model(p, timeout=timeout) for p in providers]
    if len(models) == 1:
        return models[0]
    # lazy: cold import cost (python -X importtime): pydantic_ai ~1480 ms; kept off the module's
    # import path
    from pydantic_ai.models.fallback import FallbackModel

    # any failure of a provider (refused connection, HTTP error, SDK error) tries the next
    return FallbackModel(models[0], *models[1:], fallback_on=(Exception,))


def route(providers: list[LLMProvider], routes: dict[str, list[str]],
          role: str) -> list[LLMProvider]:
    """Return the providers one role asks, in order: its route, else every provider."""
    names = routes.get(role)
    if names is None:
        return list(providers)
    by_name = {p.name: p for p in providers}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ProviderError(f"llm_routes.{role}: unknown provider(s) {', '.join(missing)}; "
                            f"configured: {', '.join(by_name) or 'none'}")
    return [by_name[n] for n in names]


async def close_model(model: Model) -> None:
    """Close the SDK clients a built model holds (fallback chains and wrappers included)."""
    pending: list[Any] = [model]
    while pending:
        current = pending.pop()
        pending += list(getattr(current, "models", []))
        if getattr(current, "wrapped", None) is not None:
            pending.append(current.wrapped)
        client = getattr(current, "client", None)
        close = getattr(client, "close", None)
        if close is not None:
            try:
                await close()
            except Exception:  # closing is tidying up: a failure changes nothing
                pass
