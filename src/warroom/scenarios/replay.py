"""Replay scenarios through the live pipeline: ingest → sense → debate, executing nothing.

Only the sensors differ from live traffic: replay adapters answer from the scenario. Each run
migrates one SQLite database once; every scenario gets a copy of it, so scenarios never see
each other's incidents while no scenario pays for migrations.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from warroom.config import Settings
from warroom.scenarios.models import Scenario
from warroom.scenarios.sensors import replay_sensors

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from warroom.agents.llm.ports import LanguageModels


class ScenarioError(Exception):
    """A scenario file that cannot be read; the message names the file and the field."""


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(document)"


def load_scenario(path: Path, *, with_expected: bool = False) -> Scenario:
    """Read and validate one scenario file, naming the file and field on failure.

    Replay ignores `expected` (the system under test never sees it); eval keeps it to score.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not a JSON document: {exc}") from exc
    except RecursionError as exc:
        raise ScenarioError(f"{path}: not a scenario: nested deeper than a JSON parser "
                            "takes") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: field (document): expected a JSON object, "
                            f"got {type(data).__name__}")
    if not with_expected:
        data.pop("expected", None)
    elif data.get("expected") is None:
        raise ScenarioError(f"{path}: field expected: required to score the scenario")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"field {_loc(e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise ScenarioError(f"{path}: {problems}{more}") from exc


def scenario_paths(inputs: Iterable[Path]) -> list[Path]:
    """Expand files and folders (their *.json files, sorted) into scenario paths."""
    out: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.glob("*.json") if p.is_file())
            if not found:
                raise ScenarioError(f"{item}: folder holds no *.json scenario")
            out.extend(found)
        else:
            out.append(item)
    return out


def _primary(refs: list[Any], counts: dict[str, int]) -> str:
    order = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
    best = min(enumerate(refs), key=lambda ir: (
        -counts.get(ir[1].id, 0), order.get(ir[1].priority, 9), ir[0]))
    return str(best[1].id)


def output_line(scenario: Scenario, result: Any, latency_ms: float) -> dict[str, Any]:
    """Shape a debate result as SCENARIOS.md's `warroom replay` output document."""
    package = result.package
    return {
        "scenario": scenario.id,
        "incident_id": result.incident_id,
        "hypotheses": [h.model_dump(mode="json") for h in result.diagnosis.hypotheses],
        "decision": {
            "status": package.status,
            "action": package.action.model_dump(mode="json") if package.action else None,
            "requires_human_approval": package.requires_human_approval,
            "risk": package.risk,
            "blast_radius": package.blast_radius,
            "confidence": package.confidence,
            "blocked_reason": package.blocked_reason,
            "summary": package.summary,
            "outcome": package.outcome,
            "team": package.team,
        },
        "agents": [_agent_line(t) for t in result.turns],
        "latency_ms": round(latency_ms, 3),
    }


def _agent_line(turn: Any) -> dict[str, Any]:
    line = {"role": turn.role, "vote": turn.vote, "degraded": turn.degraded,
            "latency_ms": turn.latency_ms}
    if turn.model is not None:  # a language model took part: what became of its answer
        line.update(backend=turn.backend, model={
            k: getattr(turn.model, k) for k in ("status", "reason", "model", "cached",
                                               "input_tokens", "output_tokens", "latency_ms")})
    return line


class Replayer:
    """Replay many scenarios with one migrated database template (async context manager)."""

    def __init__(self, settings: Settings | None = None, *,
                 models: LanguageModels) -> None:
        """`models`: the language models the debate opens (`warroom.llm.debate.LanguageModels`,
        handed in by the command line: the scenarios never import the stages above the debate)."""
        self._base = settings
        self._models = models
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._template: Path | None = None
        self._engine: AsyncEngine | None = None

    async def __aenter__(self) -> Replayer:
        # lazy: cold import cost (python -X importtime): warroom.store.db ~960 ms (pulls rich,
        # sqlalchemy), warroom.store.migrate ~1142 ms (pulls alembic, sqlalchemy),
        # warroom.agents.service ~1171 ms (pulls opentelemetry, prometheus_client, rich,
        # sqlalchemy), warroom.ingest.service ~1106 ms (pulls rich, sqlalchemy), pydantic_ai ~1480
        # ms; kept off the module's import path
        from warroom.store.db import make_engine
        from warroom.store.migrate import upgrade

        self._dir = tempfile.TemporaryDirectory(prefix="warroom-replay-")
        self._template = Path(self._dir.name) / "template.sqlite"
        if self._base is None:
            self._base = Settings(_env_file=None)
        engine = make_engine(f"sqlite+aiosqlite:///{self._template}")
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        # load the pipeline's modules now, so the first scenario's latency is not an import's
        from warroom.agents.diagnostician.templates import load_miner
        from warroom.agents.orchestrator import rule_backends
        from warroom.agents.service import analyze_incident  # noqa: F401
        from warroom.ingest.service import ingest_alertmanager  # noqa: F401

        rule_backends()
        load_miner()
        if any(self._base.backend_for(r) != "rules" for r in ("diagnostician", "solver",
                                                              "reviewer", "critic")):
            import pydantic_ai  # noqa: F401  (the model path's import, paid once up front)
        # one engine for every scenario, its file replaced by a fresh copy of the template each
        # time: live traffic runs on one engine whose statements are compiled once and cached;
        # an engine per scenario would bill every replay for compiling them all again (the
        # cache is the engine's, keyed by its dialect)
        self._engine = make_engine(f"sqlite+aiosqlite:///{self._dir.name}/replay.sqlite")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    async def replay(self, scenario: Scenario) -> dict[str, Any]:
        """Run one scenario through ingest, sensing and the debate; return its output line."""
        # lazy: cold import cost (python -X importtime): warroom.agents.service ~1171 ms (pulls
        # opentelemetry, prometheus_client, rich, sqlalchemy), warroom.ingest.service ~1106 ms
        # (pulls rich, sqlalchemy), warroom.store.db ~942 ms (pulls rich, sqlalchemy); kept off the
        # module's import path
        from warroom.agents.service import analyze_incident
        from warroom.ingest.service import ingest_alertmanager
        from warroom.store.db import make_sessionmaker

        assert self._dir is not None and self._template is not None and self._engine is not None, \
            "use `async with`"
        scenario = scenario.model_copy(update={"expected": None})  # never seen by the system
        engine = self._engine
        await engine.dispose()  # the last scenario's connections, on the file replaced now
        path = Path(engine.url.database or "")
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        shutil.copyfile(self._template, path)
        assert self._base is not None
        settings = self._base.model_copy(update={"database_url": str(engine.url),
                                           "home": Path(self._dir.name)})
        # live traffic finds a warm connection pool; so does each replayed scenario, whose
        # private database is an artefact of replay, not part of the pipeline it times
        async with engine.connect():
            pass
        started = time.perf_counter()
        try:
            sessions = make_sessionmaker(engine)
            async with sessions() as session:
                refs: list[Any] = []
                counts: dict[str, int] = {}
                for webhook in scenario.alerts:
                    ingested = await ingest_alertmanager(session, webhook, settings=settings,
                                                         now=scenario.now)
                    for ref in ingested.incidents:
                        if ref.id not in counts:
                            refs.append(ref)
                        counts[ref.id] = counts.get(ref.id, 0) + sum(
                            1 for a in webhook.alerts if a.status == "firing")
                await session.commit()
                if not refs:
                    return _failed_line(scenario, "the scenario's alerts opened no incident",
                                        time.perf_counter() - started)
                incident_id = _primary(refs, counts)
                result = await analyze_incident(
                    session, incident_id, settings=settings, sensors=replay_sensors(scenario),
                    trust=_nothing_learned, models=self._models, now=scenario.now, live=False)
                await session.commit()
            return output_line(scenario, result, (time.perf_counter() - started) * 1000)
        except Exception as exc:  # a pipeline fault: this scenario fails, the run goes on
            line = _failed_line(scenario, f"replay failed: {type(exc).__name__}: {exc}"[:500],
                                time.perf_counter() - started)
            line["error"] = line["decision"]["blocked_reason"]
            return line


async def _nothing_learned(session: AsyncSession) -> dict[str, float]:
    """The playbook trust of a replay: its private database is fresh, nothing was learned."""
    return {}


def _failed_line(scenario: Scenario, why: str, elapsed_s: float) -> dict[str, Any]:
    return {
        "scenario": scenario.id, "incident_id": None, "hypotheses": [],
        "decision": {"status": "failed", "action": {"type": "escalate", "target": None,
                                                    "params": {"reason": why}},
                     "requires_human_approval": True, "risk": "high", "blast_radius": 0,
                     "confidence": 0.0, "blocked_reason": why,
                     "summary": f"{why}. A human must decide.", "outcome": "failed",
                     "team": "COLLAB"},
        "agents": [], "latency_ms": round(elapsed_s * 1000, 3),
    }
