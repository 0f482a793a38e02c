"""Column types: Pydantic models as JSON handed back as models; datetimes handed back in UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from warroom.store.times import utc

M = TypeVar("M", bound=BaseModel)


class ModelJson(TypeDecorator[M], Generic[M]):
    """A JSON column holding one Pydantic model: validated on save and on load.

    A plain dict is accepted on save (and validated, so a malformed one fails at the write, not
    at some later read); a row read back is always the model. SQL NULL stays None. JSON path
    expressions (`column["team"]`) work as on a plain JSON column.
    """

    impl = JSON
    cache_ok = True

    def __init__(self, model: type[M]) -> None:
        super().__init__()
        self.model = model

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # PostgreSQL stores None as SQL NULL, as the plain JSON columns of store.tables do
        return dialect.type_descriptor(JSON(none_as_null=dialect.name == "postgresql"))

    def process_bind_param(self, value: M | dict[str, Any] | None,
                           dialect: Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, self.model):
            value = self.model.model_validate(value)
        return value.model_dump(mode="json")

    def process_result_value(self, value: Any, dialect: Dialect) -> M | None:
        if value is None:
            return None
        return self.model.model_validate(value)

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        # comparisons and path lookups compare plain JSON values, not models
        return self.impl_instance.coerce_compared_value(op, value)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp column that always hands back an aware UTC datetime, on either database.

    Stored as `DateTime(timezone=True)`, as every timestamp column always was (so no
    migration): `timestamptz` on PostgreSQL, which returns aware values; on SQLite an ISO
    string without a zone, which SQLAlchemy returns naive and which is always UTC because
    every value is turned to UTC on the way in (an aware one converted, a naive one taken as
    UTC). Comparisons with a datetime convert it the same way.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else utc(value)
