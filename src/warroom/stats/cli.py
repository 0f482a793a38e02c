"""`warroom stats`: MTTR, AI performance and the most affected services, as Rich tables."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from warroom.stats.models import ModelUsage, StatsRange, StatsReport


def _range(days: float, since: datetime | None, until: datetime | None, namespace: str | None,
           service: str | None) -> StatsRange:
    from pydantic import ValidationError

    from warroom.stats.models import StatsRange

    try:
        if since is not None:
            return StatsRange(since=since, until=until or datetime.now(UTC),
                              namespace=namespace or None, service=service or None)
        return StatsRange.last(days, until=until, namespace=namespace, service=service)
    except ValidationError as exc:
        message = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise typer.BadParameter(message, param_hint="--since/--until/--days") from exc


def _when(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=option) from exc


def load(q: StatsRange) -> StatsReport:
    """Read every figure of the range from the configured database."""
    from warroom.config import get_settings
    from warroom.stats import service
    from warroom.store.db import make_engine, make_sessionmaker
    from warroom.store.migrate import upgrade

    async def run() -> StatsReport:
        engine = make_engine(get_settings().effective_database_url)
        try:
            await upgrade(engine)
            async with make_sessionmaker(engine)() as session:
                return await service.report(session, q)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def print_report(report: StatsReport, console: Console) -> None:
    """Print the report as the tables `warroom stats` shows."""
    from rich.table import Table

    from warroom.stats.models import change_text, seconds_text, usd_text

    q = report.incidents.range
    scope = " ".join(f"{k}={v}" for k, v in (("namespace", q.namespace),
                                             ("service", q.service)) if v)
    console.print(f"[bold]warroom stats[/bold] {q.since:%Y-%m-%d %H:%M} → "
                  f"{q.until:%Y-%m-%d %H:%M} UTC {scope}".rstrip())
    inc = report.incidents
    table = Table(title=f"Incidents opened: {inc.total}")
    for column in ("by", "counts"):
        table.add_column(column)
    for name, counts in (("status", inc.by_status), ("priority", inc.by_priority),
                         ("fault class", inc.by_fault), ("team", inc.by_team)):
        table.add_row(name, ", ".join(f"{c.key} {c.count}" for c in counts) or "—")
    console.print(table)

    table = Table(title="Time from opening (MTTR = recovery)")
    for column in ("milestone", "incidents", "P50", "P95", "max", "previous P50", "P50 change"):
        table.add_column(column, justify="left" if column == "milestone" else "right")
    for d in report.resolution.durations:
        table.add_row(d.name.replace("_", " "), str(d.current.count), seconds_text(d.current.p50),
                      seconds_text(d.current.p95), seconds_text(d.current.max),
                      seconds_text(d.previous.p50), change_text(d.p50_change))
    console.print(table)

    ai = report.ai
    table = Table(title=f"Decisions: {ai.decisions}")
    table.add_column("outcome")
    table.add_column("decisions", justify="right")
    for c in ai.outcomes:
        table.add_row(c.key.replace("_", " "), str(c.count))
    share = "—" if ai.verification_success_share is None else \
        f"{ai.verification_success_share * 100:.0f}%"
    for label, value in (
        ("debates timed out", str(ai.timed_out)), ("debates degraded", str(ai.degraded)),
        ("approved and verified successfully",
         f"{ai.approved_verified_success} of {ai.approved_verified} ({share})"),
        ("human overrides", f"{ai.overrides} ({ai.human_rejections} rejected by a human, "
                            f"{ai.different_action} other action)"),
        ("critic challenges proved right", f"{ai.challenges_proved_right} of {ai.challenges}"),
    ):
        table.add_row(f"[dim]{label}[/dim]", value)
    console.print(table)

    for title, rows in (("Agent latency", ai.agents), ("Backend latency", ai.backends)):
        table = Table(title=title)
        for column in ("name", "turns", "degraded", "P50", "P95"):
            table.add_column(column, justify="left" if column == "name" else "right")
        for a in rows:
            table.add_row(a.name, str(a.turns), str(a.degraded),
                          seconds_text(None if a.p50_ms is None else a.p50_ms / 1000),
                          seconds_text(None if a.p95_ms is None else a.p95_ms / 1000))
        console.print(table)

    console.print(_usage_table(f"Model tokens and cost: {ai.tokens} tokens, "
                               f"{usd_text(ai.cost_usd)}", "agent", ai.usage_by_agent))
    console.print(_usage_table("Model tokens and cost by model", "model", ai.usage_by_model))

    table = Table(title="Most affected services (their alerts were in the incidents)")
    for column in ("service", "incidents", "time in incident"):
        table.add_column(column, justify="left" if column == "service" else "right")
    for s in report.services.by_count:
        table.add_row(f"{s.namespace}/{s.service}", str(s.incidents),
                      seconds_text(s.seconds_in_incident))
    console.print(table)

    table = Table(title="Root candidates")
    for column in ("root candidate", "incidents", "without an alert of its own"):
        table.add_column(column, justify="left" if column == "root candidate" else "right")
    for r in report.services.root_candidates:
        table.add_row(f"{r.namespace}/{r.service}", str(r.incidents), str(r.silent))
    console.print(table)

    table = Table(title="Playbook trust")
    for column in ("fault", "action", "trust now", "over the range"):
        table.add_column(column)
    for p in report.playbooks.playbooks:
        path = " → ".join(f"{pt.trust:.2f}" for pt in p.points[-6:])
        table.add_row(p.fault, p.action_type, "—" if p.trust is None else f"{p.trust:.2f}", path)
    console.print(table)


def _usage_table(title: str, by: str, rows: list[ModelUsage]) -> Table:
    from rich.table import Table

    from warroom.stats.models import usd_text

    table = Table(title=title)
    for column in (by, "turns", "cached", "input tokens", "output tokens", "cost"):
        table.add_column(column, justify="left" if column == by else "right")
    for u in rows:
        table.add_row(u.name or "(none)", str(u.turns), str(u.cached),
                      str(u.input_tokens), str(u.output_tokens), usd_text(u.cost_usd))
    return table


def register(app: typer.Typer) -> None:
    """Add `warroom stats` to the warroom command."""

    @app.command("stats")
    def stats(
        days: float = typer.Option(7.0, min=0.001, max=3660, help="the last N days"),
        since: str = typer.Option(None, help="start (ISO 8601, UTC if no zone)"),
        until: str = typer.Option(None, help="end (ISO 8601, default: now)"),
        namespace: str = typer.Option(None, help="only this namespace"),
        service: str = typer.Option(None, help="only this service"),
        json_: bool = typer.Option(False, "--json", help="print the API's JSON instead"),
    ) -> None:
        """Show MTTR, AI performance, the most affected services and playbook trust."""
        from rich.console import Console

        report = load(_range(days, _when(since, "--since"), _when(until, "--until"),
                             namespace, service))
        if json_:
            typer.echo(report.model_dump_json(indent=2))
            return
        print_report(report, Console())
