"""Cassettes: a real model's answers recorded once, replayed deterministically without it.

A cassette is a JSON file mapping a digest of the request (every message part the model was
sent, without timestamps or ids) to the model's response. `RecordingModel` wraps any
pydantic-ai model and writes each answer down; `replay_model` is a `FunctionModel` that answers
from the file and refuses, loudly, a request it has not seen, so a changed prompt is noticed
rather than answered with a stale reply.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    UserPromptPart,
)
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from warroom.config import Settings

FORMAT = 1


class CassetteMiss(LookupError):
    """The cassette holds no answer for this request (the prompt or evidence changed)."""


class CassetteEntry(BaseModel):
    model: str
    prompt: str = ""  # the last user prompt, shortened: for a person reading the file
    response: list[dict[str, Any]]  # one ModelResponse, as ModelMessagesTypeAdapter writes it


class CassetteFile(BaseModel):
    format: int = FORMAT
    entries: dict[str, CassetteEntry] = {}


def _part(part: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": part.part_kind}
    for name in ("tool_name", "args", "content"):
        if hasattr(part, name):
            out[name] = getattr(part, name)
    if hasattr(part, "model_response_str"):  # a tool's return value, as the model read it
        out["content"] = part.model_response_str()
    return out


def request_digest(messages: list[ModelMessage]) -> str:
    """Return the sha256 of what the model was sent: every part's kind and content, in order."""
    canon = []
    for message in messages:
        entry: dict[str, Any] = {"kind": message.kind, "parts": [_part(p) for p in message.parts]}
        if isinstance(message, ModelRequest):
            entry["instructions"] = message.instructions
        canon.append(entry)
    raw = orjson.dumps(canon, default=str, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()


def _last_prompt(messages: list[ModelMessage]) -> str:
    for message in reversed(messages):
        for part in reversed(message.parts):
            if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                return part.content[:200]
    return ""


class Cassette:
    """One cassette file, read on open and rewritten whole after each recorded answer."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = CassetteFile()
        if path.exists():
            try:
                self.data = CassetteFile.model_validate_json(path.read_bytes())
            except ValueError as exc:
                raise ValueError(f"{path}: not a cassette file: {exc}") from exc
            if self.data.format != FORMAT:
                raise ValueError(f"{path}: cassette format {self.data.format}, this warroom "
                                 f"reads {FORMAT}")

    def __len__(self) -> int:
        return len(self.data.entries)

    def answer(self, messages: list[ModelMessage]) -> ModelResponse:
        """Return the recorded response to these messages, or raise `CassetteMiss`."""
        digest = request_digest(messages)
        entry = self.data.entries.get(digest)
        if entry is None:
            raise CassetteMiss(f"{self.path}: no recorded answer for request {digest[:12]} "
                               f"({_last_prompt(messages)[:80]!r}); record it again against "
                               "the real model")
        response = ModelMessagesTypeAdapter.validate_python(entry.response)[0]
        assert isinstance(response, ModelResponse)
        return response

    def record(self, messages: list[ModelMessage], response: ModelResponse,
               model: str) -> None:
        """Add one answer and write the file (atomically: a crash leaves the old one)."""
        self.data.entries[request_digest(messages)] = CassetteEntry(
            model=model, prompt=_last_prompt(messages),
            response=ModelMessagesTypeAdapter.dump_python([response], mode="json"))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(self.data.model_dump(mode="json"),
                                   option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        os.replace(tmp, self.path)


class RecordingModel(WrapperModel):
    """Ask the wrapped (real) model and write every answer into a cassette."""

    def __init__(self, wrapped: Model, cassette: Cassette) -> None:
        super().__init__(wrapped)
        self.cassette = cassette

    async def request(self, messages: list[ModelMessage], model_settings: ModelSettings | None,
                      model_request_parameters: ModelRequestParameters) -> ModelResponse:
        """Ask the real model, then record its answer under the request's digest."""
        response = await self.wrapped.request(messages, model_settings,
                                              model_request_parameters)
        self.cassette.record(messages, response, self.wrapped.model_name)
        return response


_OPEN: dict[Path, Cassette] = {}


def shared_cassette(path: Path) -> Cassette:
    """Return the one open cassette of a file, so every recorder appends to the same entries."""
    key = path.resolve()
    if key not in _OPEN:
        _OPEN[key] = Cassette(path)
    return _OPEN[key]


def with_cassette(model: Model, settings: Settings) -> Model:
    """Wrap a configured model as `llm_cassette` asks: record its answers, or replace it."""
    if not settings.llm_cassette:
        return model
    path = Path(settings.llm_cassette)
    if settings.llm_cassette_mode == "replay":
        return replay_model(path)
    return RecordingModel(model, shared_cassette(path))


def replay_model(path: Path) -> FunctionModel:
    """Return a model that answers only from the cassette at `path`."""
    if not path.exists():
        raise FileNotFoundError(f"no cassette at {path}")
    cassette = Cassette(path)

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return cassette.answer(messages)

    return FunctionModel(answer, model_name=f"cassette:{path.name}")
