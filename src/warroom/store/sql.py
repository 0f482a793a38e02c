"""SQL building blocks shared by the repositories."""

from __future__ import annotations

from collections.abc import Collection

import orjson
from sqlalchemy import ColumnElement, String, any_, bindparam, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import func


def in_values(
    column: ColumnElement[str], values: Collection[str], dialect: str
) -> ColumnElement[bool]:
    """`column IN (values)` with one bound parameter whatever the number of values.

    A plain IN renders one placeholder per value, so each batch size is new SQL that SQLite
    parses and plans again and SQLAlchemy renders again. Here the statement never changes: the
    values travel as one array (PostgreSQL) or one JSON text read by json_each (SQLite).
    """
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(String())))
    if dialect == "sqlite":
        listed = orjson.dumps(list(values)).decode()
        return column.in_(
            select(literal_column("value")).select_from(func.json_each(bindparam(None, listed)))
        )
    return column.in_(list(values))
