"""What the workflow steps run with: settings, a database per event loop, sensors, the debate.

DBOS runs async workflows on its own event loop thread, so steps cannot borrow the web app's
engine (asyncpg connections belong to the loop that opened them). The runtime opens one engine
per event loop, lazily, from the same settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from warroom.agents.events import EventBus, bus_from_settings
from warroom.config import Settings
from warroom.execute.ports import Executor
from warroom.learn.service import playbook_trust
from warroom.sensors.ports import Sensor
from warroom.sensors.service import default_sensors
from warroom.store.audit import WRITE_TURN
from warroom.store.db import make_engine, make_sessionmaker, transaction
from warroom.store.turns import WriteTurns

# analyze_incident(session, incident_id, *, settings, sensors, bus) -> DebateResult
Analyzer = Callable[..., Awaitable[Any]]
SensorFactory = Callable[[Settings, async_sessionmaker[AsyncSession]], list[Sensor]]
ExecutorFactory = Callable[[Settings, list[dict[str, Any]]], Executor]
EngineFactory = Callable[[Settings], AsyncEngine]


def _default_engine(settings: Settings) -> AsyncEngine:
    return make_engine(settings.effective_database_url)


def _default_sensors(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> list[Sensor]:
    return default_sensors(settings, sessions)


def _default_executor(settings: Settings, objects: list[dict[str, Any]]) -> Executor:
    # lazy: cold import cost (python -X importtime): warroom.execute.service ~114 ms (pulls
    # prometheus_client); kept off the module's import path
    from warroom.execute.service import make_executor

    return make_executor(settings, objects)


async def _default_analyzer(session: AsyncSession, incident_id: str, **kwargs: Any) -> Any:
    """The debate, handed what it may not import itself: learn's trust, llm's models."""
    # lazy: cold import cost (python -X importtime): warroom.agents.service ~243 ms (pulls
    # opentelemetry, prometheus_client, sqlalchemy), warroom.llm.debate ~143 ms (pulls
    # opentelemetry, prometheus_client); kept off the module's import path
    from warroom.agents.service import analyze_incident
    from warroom.llm.debate import LanguageModels

    return await analyze_incident(session, incident_id, trust=playbook_trust,
                                  models=LanguageModels(), **kwargs)


@dataclass
class Runtime:
    """Everything a workflow step needs; one per launch, held by the workflows DBOS runs."""

    settings: Settings
    engine_factory: EngineFactory = _default_engine
    sensor_factory: SensorFactory = _default_sensors
    executor_factory: ExecutorFactory = _default_executor
    analyzer: Analyzer = _default_analyzer
    # where the debate is published: the app's bus, or (a worker alone) one of its own
    bus: EventBus | None = None
    # SQLite in the API process: ingestion's group commits write first (`store/turns.py`)
    turns: WriteTurns | None = None
    _engines: dict[
        asyncio.AbstractEventLoop, tuple[AsyncEngine, async_sessionmaker[AsyncSession]]
    ] = field(default_factory=dict)
    _writers: dict[asyncio.AbstractEventLoop, asyncio.Lock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.bus is None:
            self.bus = bus_from_settings(self.settings.redis_url,
                                         self.settings.event_stream_maxlen)

    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """Return the session factory bound to the running event loop."""
        loop = asyncio.get_running_loop()
        if loop not in self._engines:
            engine = self.engine_factory(self.settings)
            self._engines[loop] = (engine, make_sessionmaker(engine))
        return self._engines[loop][1]

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """Open a short write transaction; on SQLite the worker's writers take turns first.

        SQLite has one write lock, and ingestion's group commit asks for it every 2 ms while
        a waiting writer sleeps in SQLite's busy handler (steps up to 100 ms) and whoever
        wakes first wins. A dozen workflow steps queued in that handler won the lock from
        ingestion again and again; taking turns here leaves at most one of them asking, and
        with `turns` it waits in the process while ingestion has group commits queued.
        Other databases queue lock waiters fairly: nothing to do there.
        """
        sessions = self.sessions()
        if not self._sqlite():
            async with transaction(sessions) as session:
                yield session
            return
        async with self._turn(), transaction(sessions) as session:
            yield session

    @asynccontextmanager
    async def writing_later(self) -> AsyncIterator[AsyncSession]:
        """Open a transaction that reads freely and takes its write turn when it starts writing.

        For a step that reads for long before it writes (the debate): the turn is taken when
        the transaction first extends the audit chain (`audit.lock_chain`), and held to the end.
        """
        sessions = self.sessions()
        if not self._sqlite():
            async with transaction(sessions) as session:
                yield session
            return
        async with AsyncExitStack() as turn:  # exits after the transaction below

            async def take() -> None:
                await turn.enter_async_context(self._turn())

            async with transaction(sessions) as session:
                session.info[WRITE_TURN] = take
                yield session

    def _sqlite(self) -> bool:
        self.sessions()
        return self._engines[asyncio.get_running_loop()][0].dialect.name == "sqlite"

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        gate = self._writers.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        async with gate:
            if self.turns is None:
                yield
                return
            async with self.turns.working():
                yield

    def close(self, timeout: float = 5.0) -> None:
        """Dispose every engine on its own loop; call from a thread that runs no loop."""
        for loop, (engine, _) in list(self._engines.items()):
            if loop.is_running():
                asyncio.run_coroutine_threadsafe(engine.dispose(), loop).result(timeout)
            self._engines.pop(loop, None)
            self._writers.pop(loop, None)

    def sensors(self) -> list[Sensor]:
        """Return the live sensors, the same for sensing and for verification."""
        return self.sensor_factory(self.settings, self.sessions())

    async def dispose(self) -> None:
        """Close the engine of the running loop (others close with their loops)."""
        self._writers.pop(asyncio.get_running_loop(), None)
        pair = self._engines.pop(asyncio.get_running_loop(), None)
        if pair is not None:
            await pair[0].dispose()


async def runtime_like(engine: AsyncEngine, settings: Settings, *, bus: EventBus | None = None,
                       turns: WriteTurns | None = None) -> Runtime:
    """Return a runtime whose per-loop engines reach the same database (and schema) as `engine`.

    When the app lives in a private PostgreSQL schema and the DBOS schema is left at its
    default, the DBOS system tables go into that schema too, so two warroom instances sharing
    one database never run each other's workflows.
    """
    url = engine.url.render_as_string(hide_password=False)
    kwargs: dict[str, Any] = {}
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            path = str((await conn.execute(text("SHOW search_path"))).scalar_one())
        kwargs["connect_args"] = {"server_settings": {"search_path": path}}
        schema = path.split(",")[0].strip().strip('"')
        if schema not in ("", "public", "$user") and settings.dbos_system_schema == "dbos":
            settings = settings.model_copy(update={"dbos_system_schema": schema})

    def factory(_: Settings) -> AsyncEngine:
        return make_engine(url, **kwargs)

    return Runtime(settings, engine_factory=factory, bus=bus, turns=turns)

