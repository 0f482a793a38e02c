"""Talk to llama.cpp's OpenAI-compatible server through pydantic-ai, its quirks handled.

The server ignores `max_completion_tokens` (it reads `max_tokens`), answers HTTP 500 to a
`json_schema` response format and does not force tool calls. What works: the schema in the
prompt (`PromptedOutput`) plus `response_format: {"type": "json_object", "schema": ...}`, which
the server turns into a grammar, so even a 270M model answers parseable JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage, ModelResponse
    from pydantic_ai.models import Model, ModelRequestParameters
    from pydantic_ai.models.openai import OpenAIChatModel, OpenAIChatModelSettings
    from pydantic_ai.settings import ModelSettings


def local_model(base_url: str, model: str, *, timeout: float = 300.0,
                http_client: Any = None) -> OpenAIChatModel:
    """Return a pydantic-ai model for a llama.cpp server (no SDK retries: fail fast).

    `http_client` is an `httpx.AsyncClient` (the OpenAI SDK accepts httpx and httpx2 ones).
    """
    # lazy: cold import cost (python -X importtime): openai ~970 ms, pydantic_ai openai model ~2100
    # ms; kept off the module's import path
    from openai import AsyncOpenAI
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.profiles.openai import OpenAIModelProfile
    from pydantic_ai.providers.openai import OpenAIProvider

    client = AsyncOpenAI(base_url=base_url, api_key="local", max_retries=0, timeout=timeout,
                         http_client=http_client)
    return OpenAIChatModel(model, provider=OpenAIProvider(openai_client=client),
                           profile=OpenAIModelProfile(
                               openai_chat_supports_max_completion_tokens=False))


def json_settings(output_type: type[BaseModel] | None, *,
                  max_tokens: int) -> OpenAIChatModelSettings:
    """Return settings asking for JSON (of `output_type`'s schema when given), greedily."""
    response_format: dict[str, Any] = {"type": "json_object"}
    if output_type is not None:
        response_format["schema"] = output_type.model_json_schema()
    return {"max_tokens": max_tokens, "temperature": 0.0, "seed": 0,
            "extra_body": {"response_format": response_format}}


def schema_grammar(model: Model) -> Model:
    """Wrap a llama.cpp model so each structured request carries its schema as a grammar.

    The provider's default asks for any JSON object; with the output's own schema in
    `response_format` the server constrains decoding to it, so a small model's answer parses.
    """
    # lazy: cold import cost (python -X importtime): pydantic_ai ~1480 ms; kept off the module's
    # import path
    from pydantic_ai.models.wrapper import WrapperModel

    class SchemaGrammar(WrapperModel):
        async def request(self, messages: list[ModelMessage],
                          model_settings: ModelSettings | None,
                          model_request_parameters: ModelRequestParameters) -> ModelResponse:
            target = model_request_parameters.output_object
            if target is not None:
                merged: dict[str, Any] = {**(self.wrapped.settings or {}),
                                          **(model_settings or {})}
                extra = dict(merged.get("extra_body") or {})
                extra["response_format"] = {"type": "json_object",
                                            "schema": target.json_schema}
                merged["extra_body"] = extra
                model_settings = cast("ModelSettings", merged)
            return await self.wrapped.request(messages, model_settings,
                                              model_request_parameters)

    return SchemaGrammar(model)
