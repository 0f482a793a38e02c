"""SQL building blocks shared by the repositories."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, String, any_, bindparam, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql import func


def dialect_of(session: AsyncSession) -> str:
    """Name the dialect a session talks to ("sqlite", "postgresql")."""
    return session.get_bind().dialect.name


def in_list(
    column: ColumnElement[str] | QueryableAttribute[str], name: str, dialect: str
) -> ColumnElement[bool]:
    """`column IN (...)` where the bound parameter `name` carries the whole list.

    A plain IN renders one placeholder per value, so every batch size is new SQL for SQLite to
    parse and plan and for SQLAlchemy to render. Here the statement never changes: the values
    travel as one array (PostgreSQL) or one JSON text read by json_each (SQLite). Bind the
    value made by `list_value`.
    """
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(String())))
    if dialect == "sqlite":
        values: Select[Any] = select(literal_column("value")).select_from(
            func.json_each(bindparam(name, type_=String()))
        )
        return column.in_(values)
    return column.in_(bindparam(name, expanding=True))


def list_value(values: Iterable[str], dialect: str) -> Any:
    """The value to bind to an `in_list` parameter."""
    if dialect == "sqlite":
        return orjson.dumps(list(values)).decode()
    return list(values)
