"""Types of the language-model context: cached answers and usage totals."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class CachedAnswer(BaseModel):
    """A model answer kept in the response cache."""

    model: str
    output: dict[str, Any]
    input_tokens: int = 0
    output_tokens: int = 0


class PendingCache(BaseModel):
    """A fresh answer to store in the cache once the debate is over."""

    key: str
    answer: CachedAnswer


class UsageTotals(BaseModel):
    """Token usage and cost of the model turns of one incident."""

    turns: int = 0
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
