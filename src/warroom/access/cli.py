"""`warroom tokens create|list|revoke` and `warroom users add|list|disable`, on the database.

These run where the database is reachable (the server, a Kubernetes job); everything is
recorded in the audit trail with the operating-system user as the actor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from warroom.access.models import Role

T = TypeVar("T")
tokens = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)
users = typer.Typer(help="Users and their roles (viewer, approver, admin).",
                    no_args_is_help=True)
ROLES = "viewer | approver | admin"


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction on the migrated database; exit 2 on bad input."""
    from warroom.access.models import AccessError
    from warroom.config import get_settings
    from warroom.store.db import make_engine, make_sessionmaker
    from warroom.store.migrate import upgrade

    async def run() -> T:
        engine = make_engine(get_settings().effective_database_url)
        try:
            await upgrade(engine)
            async with make_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (AccessError, LookupError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _role(value: str | None) -> Role | None:
    from warroom.access.models import Role

    if value is None:
        return None
    try:
        return Role(value.lower())
    except ValueError as exc:
        typer.echo(f"error: --role {value!r}: use {ROLES}", err=True)
        raise typer.Exit(2) from exc


@tokens.command("create")
def create(
    name: str = typer.Option(..., "--name", help="the user the token signs in"),
    role: str = typer.Option(None, "--role", help=f"{ROLES}; creates the user or changes its "
                             "role [default: the user's current role]"),
    days: int = typer.Option(None, "--days", min=1, max=3650,
                             help="lifetime [default: settings.token_days, 90]"),
    description: str = typer.Option("", "--description", help="what the token is for"),
) -> None:
    """Create an API token; the token is printed once, on the last line."""
    from warroom.access import service
    from warroom.config import get_settings

    new = _in_transaction(lambda s: service.create_token(
        s, name=name, role=_role(role), days=days or get_settings().token_days,
        description=description, actor=_actor()))
    typer.echo(f"token {new.id} for {new.name} ({new.role.value}), expires "
               f"{new.expires_at:%Y-%m-%d %H:%M} UTC; it is shown only now, keep it safe:")
    typer.echo(new.token)


@tokens.command("list")
def list_(
    name: str = typer.Option(None, "--name", help="only this user's tokens"),
    revoked: bool = typer.Option(False, "--revoked", help="include revoked tokens"),
) -> None:
    """List tokens (never the tokens themselves)."""
    from warroom.access import service

    found = _in_transaction(lambda s: service.list_tokens(s, name=name,
                                                          include_revoked=revoked))
    if not found:
        typer.echo("no tokens")
    for t in found:
        state = f"revoked {t.revoked_at:%Y-%m-%d} by {t.revoked_by}" if t.revoked_at else \
            f"expires {t.expires_at:%Y-%m-%d}"
        typer.echo(f"{t.id}  {t.name:<24} {t.prefix}…  {state}  {t.description}")


@tokens.command("revoke")
def revoke(token_id: str = typer.Argument(..., help="the token's id (t_…), from `list`")) -> None:
    """Revoke a token: it stops working at once (within `auth_cache_seconds` elsewhere)."""
    from warroom.access import service

    done = _in_transaction(lambda s: service.revoke_token(s, token_id=token_id,
                                                          actor=_actor()))
    typer.echo(f"revoked {done.id} of {done.name}")


@users.command("add")
def add(
    name: str = typer.Argument(..., help="user name (an e-mail address for OIDC users)"),
    role: str = typer.Option(..., "--role", help=ROLES),
) -> None:
    """Create a user, or change its role (and enable it again)."""
    from warroom.access import service

    chosen = _role(role)
    assert chosen is not None

    user = _in_transaction(lambda s: service.save_user(s, name=name, role=chosen,
                                                       actor=_actor()))
    typer.echo(f"{user.name}: {user.role.value}")


@users.command("disable")
def disable(name: str = typer.Argument(...)) -> None:
    """Disable a user: its tokens and sessions stop working (its history stays)."""
    from warroom.access import repository, service
    from warroom.access.models import Role

    async def work(session: AsyncSession) -> str:
        user = await repository.get_user(session, service.normalize_name(name))
        if user is None:
            raise LookupError(f"no user {name!r}")
        await service.save_user(session, name=user.name, role=Role(user.role), disabled=True,
                                actor=_actor())
        return user.name

    typer.echo(f"{_in_transaction(work)}: disabled")


@users.command("list")
def list_users() -> None:
    """List users and their roles."""
    from warroom.access import service

    for user in _in_transaction(service.list_users):
        typer.echo(f"{user.name:<32} {user.role.value:<9}"
                   f"{' disabled' if user.disabled else ''}")


def register(app: typer.Typer) -> None:
    """Add `tokens` and `users` to the warroom command."""
    app.add_typer(tokens, name="tokens")
    app.add_typer(users, name="users")
