"""Dialect-specific SQL pieces of the stats, written once for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Float, Select, String, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement, FromClause, TableClause
from sqlalchemy.sql.functions import FunctionElement

from warroom.stats.models import Percentiles


class seconds_between(FunctionElement[float]):  # noqa: N801  (reads as the SQL function it is)
    """`seconds_between(start, end)`: the seconds from one timestamp to another, as a float."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (f"((julianday({compiler.process(end, **kw)}) - "
            f"julianday({compiler.process(start, **kw)})) * 86400.0)")


@compiles(seconds_between)
def _seconds_postgresql(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (f"EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - "
            f"{compiler.process(start, **kw)}))::float")


class utc_day(FunctionElement[str]):  # noqa: N801
    """`utc_day(ts)`: the UTC calendar day of a timestamp as `YYYY-MM-DD` text."""

    type = String()
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(next(iter(element.clauses)), **kw)})"


@compiles(utc_day)
def _day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(next(iter(element.clauses)), **kw)
    return f"to_char(({value}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@dataclass(frozen=True)
class Walk:
    """The `count` non-NULL values of `value` in `table` under `where`, to rank by walking."""

    key: str
    count: int
    table: FromClause
    value: ColumnElement[Any]
    where: tuple[ColumnElement[bool], ...]


class IndexedTable(TableClause):
    """A table read through one named index on SQLite (`INDEXED BY`), plainly elsewhere.

    One subclass per index (`index` names it): the class is part of the statement cache key.
    """

    index: ClassVar[str] = ""
    inherit_cache = True


@compiles(IndexedTable)
def _table_plain(element: IndexedTable, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.visit_table(element, **kw))


@compiles(IndexedTable, "sqlite")
def _table_indexed(element: IndexedTable, compiler: SQLCompiler, **kw: Any) -> str:
    text = str(compiler.visit_table(element, **kw))
    # without statistics SQLite would rather walk every event of a kind and parse its payload
    return f"{text} INDEXED BY {element.index}" if kw.get("asfrom") and element.index else text


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


REPORT_WORK_MEM = "64MB"


async def tune_for_reports(session: AsyncSession) -> None:
    """Set PostgreSQL up for the stats' read-only transaction (nothing to do on SQLite).

    JIT off: the stats' queries cost enough in the planner's eyes to be JIT-compiled, and
    compiling took ~200 ms of a 250 ms answer at 100,000 incidents, more than running them.
    More sort memory: ranking a year's durations (a million agent turns) spilled to disk with
    the default 4 MB and took twice as long. Custom plans always: the driver prepares each
    statement, and from its sixth run PostgreSQL may switch to a generic plan that cannot see
    the range's bounds (measured: the services figures went from 0.32 to 0.53 s and the AI
    figures from 0.25 to 1.2 s at the sixth request). `SET LOCAL` ends with the transaction.
    """
    if _dialect(session) == "postgresql":
        await session.execute(text("SET LOCAL jit = off"))
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        await session.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))


def nearest_rank(n: int, p: int) -> int:
    """The rank (1-based) of the nearest-rank percentile `p` of `n` values: ceil(p * n)."""
    return (n * p + 99) // 100


async def walked(session: AsyncSession, walks: Sequence[Walk]) -> dict[str, Percentiles]:
    """P50, P95 and max of each walk's values, in one statement, without sorting anything.

    Each walk reads an index in the order of its values and steps to the rank from the nearer
    end (`ORDER BY v [DESC] LIMIT 1 OFFSET k`): over a long range that is a few milliseconds
    per 100,000 values where ranking them all with window functions sorts them
    (`percentiles`). Ranks are nearest-rank, as `percentiles`, so both plans give the same
    figures.
    """
    todo = [w for w in walks if w.count]
    out = {w.key: Percentiles(count=0) for w in walks}
    if not todo:
        return out
    found: list[Any] = []
    for w in todo:
        values = select(w.value).select_from(w.table).where(w.value.is_not(None), *w.where)
        for p in (50, 95):
            rank = nearest_rank(w.count, p)
            # from the nearer end: the 95th percentile is 5 % of the values from the top
            if rank - 1 <= w.count - rank:
                walk = values.order_by(w.value).offset(rank - 1)
            else:
                walk = values.order_by(w.value.desc()).offset(w.count - rank)
            found.append(walk.limit(1).scalar_subquery())
        found.append(values.order_by(w.value.desc()).limit(1).scalar_subquery())
    row = (await session.execute(select(*found))).one()
    for i, w in enumerate(todo):
        p50, p95, top = row[3 * i:3 * i + 3]
        out[w.key] = Percentiles(count=w.count, p50=p50, p95=p95, max=top)
    return out


async def grouped(session: AsyncSession, table: FromClause, group: ColumnElement[Any],
                  value: ColumnElement[Any], where: Sequence[ColumnElement[bool]]
                  ) -> dict[str, Percentiles]:
    """P50, P95 and max of `value` per `group`, for many small groups (a year's days).

    Counted per group first (with the max); then one pass numbers the values in (group,
    value) order — an index in that order means nothing is sorted — and keeps only the rows
    at each group's ranks, found by adding the counts of the groups before it. Cheaper than
    ranking within each group (`percentiles`) or walking to every group's ranks (`walked`).
    """
    counts = [(str(key), int(n), top) for key, n, top in (await session.execute(
        select(group, func.count(value), func.max(value))
        .where(value.is_not(None), *where).group_by(group).order_by(group))).all()]
    wanted: dict[int, list[tuple[str, str]]] = {}
    before = 0
    for key, n, _ in counts:
        for name, p in (("p50", 50), ("p95", 95)):
            wanted.setdefault(before + nearest_rank(n, p), []).append((key, name))
        before += n
    out = {key: Percentiles(count=n, max=top) for key, n, top in counts}
    if not wanted:
        return out
    numbered = select(value.label("v"), func.row_number().over(order_by=(group, value))
                      .label("rn")).select_from(table).where(value.is_not(None), *where
                                                             ).subquery()
    for rank, v in (await session.execute(
            select(numbered.c.rn, numbered.c.v).where(numbered.c.rn.in_(sorted(wanted))))).all():
        for key, name in wanted[int(rank)]:
            setattr(out[key], name, v)
    return out


async def percentiles(session: AsyncSession, values: Select[Any]) -> dict[str, Percentiles]:
    """Rank `values` (columns `name`, `v`) per name and return P50, P95, max and count.

    Nearest rank: the value at rank ceil(p * n). PostgreSQL's `percentile_disc` is exactly
    that, as an aggregate; SQLite has none, so the values are ranked with window functions
    and only the ranked rows leave the database.
    """
    src = values.subquery()
    if _dialect(session) == "postgresql":
        stmt = (select(src.c.name, func.count(src.c.v),
                       func.percentile_disc(0.5).within_group(src.c.v),
                       func.percentile_disc(0.95).within_group(src.c.v), func.max(src.c.v))
                .where(src.c.v.is_not(None)).group_by(src.c.name))
        return {str(name): Percentiles(count=int(n), p50=float(p50), p95=float(p95),
                                       max=float(top))
                for name, n, p50, p95, top in (await session.execute(stmt)).all()}
    ranked = select(
        src.c.name, src.c.v,
        func.row_number().over(partition_by=src.c.name, order_by=src.c.v).label("rn"),
        func.count().over(partition_by=src.c.name).label("n"),
    ).where(src.c.v.is_not(None)).subquery()
    n = ranked.c.n
    p50, p95 = (n * 50 + 99) // 100, (n * 95 + 99) // 100  # nearest_rank, in SQL
    stmt = select(ranked.c.name, ranked.c.v, ranked.c.rn, n).where(
        or_(ranked.c.rn == p50, ranked.c.rn == p95, ranked.c.rn == n))
    out: dict[str, Percentiles] = {}
    for name, value, rank, count in (await session.execute(stmt)).all():
        found = out.setdefault(str(name), Percentiles(count=int(count)))
        if rank == nearest_rank(count, 50):
            found.p50 = float(value)
        if rank == nearest_rank(count, 95):
            found.p95 = float(value)
        if rank == count:
            found.max = float(value)
    return out
