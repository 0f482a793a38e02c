"""`warroom db upgrade` and `warroom audit verify`."""

from __future__ import annotations

import asyncio

import typer

db = typer.Typer(help="Database schema.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


@db.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Alembic revision")) -> None:
    """Migrate the configured database to the newest schema."""
    from warroom.config import get_settings
    from warroom.store.db import make_engine
    from warroom.store.migrate import upgrade as migrate

    settings = get_settings()

    async def run() -> None:
        engine = make_engine(settings.effective_database_url)
        try:
            await migrate(engine, revision)
        finally:
            await engine.dispose()

    asyncio.run(run())
    typer.echo(f"database at {settings.effective_database_url.split('@')[-1]} is at {revision}")


@audit_app.command("verify")
def verify() -> None:
    """Re-compute the audit hash chain; exit 1 if any row was altered."""
    from warroom.config import get_settings
    from warroom.store.audit import ChainReport, verify_chain
    from warroom.store.db import make_engine, make_sessionmaker

    async def run() -> ChainReport:
        engine = make_engine(get_settings().effective_database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                return await verify_chain(session)
        finally:
            await engine.dispose()

    report = asyncio.run(run())
    if report.ok:
        typer.echo(f"audit chain intact: {report.checked} rows verified")
        return
    typer.echo(
        f"audit chain BROKEN at seq {report.first_bad_seq} ({report.checked} rows verified before)",
        err=True,
    )
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `db` and `audit` to the warroom command."""
    app.add_typer(db, name="db")
    app.add_typer(audit_app, name="audit")
