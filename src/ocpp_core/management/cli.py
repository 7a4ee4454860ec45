"""``ocpp-core management`` and ``ocpp-core user``; the main ``ocpp-core`` group attaches them.

The apps, the settings and the database layer are imported by each command as
it runs (see ``ocpp_core.cli_support``).
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import click

from ocpp_core.cli_support import cli_settings, in_session, run, run_servers, user_errors
from ocpp_core.clock import utc_now
from ocpp_core.domain.roles import Role

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ocpp_core.domain.users import Operator

GENERATED_PASSWORD_BYTES = 12  # 16 characters of URL-safe base64: 96 bits


def listen_overrides(host: str | None, port: int | None) -> dict[str, Any]:
    """``management=`` settings overrides for the flags given (none: keep the configuration)."""
    given = {"host": host, "port": port}
    return {"management": {k: v for k, v in given.items() if v is not None} or None}


@click.command("management")
@click.option("--host", help="Listen address (default 127.0.0.1).")
@click.option("--port", type=int, help="Listen port (default 8082).")
@click.pass_context
def management_command(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the management app alone: the operators' pages.

    It reads the database and asks the server at OCPP_CORE_MANAGEMENT__SERVER_API_URL
    (with OCPP_CORE_API_KEY) for live state.
    """
    from ocpp_core.config import ConfigError
    from ocpp_core.listening import Listener
    from ocpp_core.logs import configure_logging
    from ocpp_core.management.app import create_management_app
    from ocpp_core.management.run import PORT_SETTING, uvicorn_config

    settings = cli_settings(ctx, **listen_overrides(host, port))
    configure_logging(settings.log_level)
    with user_errors(ConfigError):
        app = create_management_app(settings)
    run_servers(Listener(uvicorn_config(app, settings), f"--port or {PORT_SETTING}"))


@click.group("user")
def user() -> None:
    """Operators of the management app."""


@user.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="An administrator (default: a viewer, read-only).")
@click.option("--password", help="The password (it stays in your shell history; see --prompt).")
@click.option("--prompt", "ask", is_flag=True, help="Type the password, hidden.")
@click.pass_context
def user_add(ctx: click.Context, name: str, admin: bool, password: str | None, ask: bool) -> None:
    """Add an operator who can log in to the management app.

    Without --password or --prompt, a password is generated and printed once.
    """
    from ocpp_core.domain import users
    from ocpp_core.domain.users import UserError

    if password is not None and ask:
        raise click.UsageError("give --password or --prompt, not both")
    if ask:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    generated = password is None
    secret = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES) if password is None else password
    role = Role.ADMIN if admin else Role.VIEWER
    settings = cli_settings(ctx)
    cost = settings.management.password_hash_cost
    added = run(
        in_session(
            settings,
            lambda s: users.add(s, name=name, password=secret, role=role, now=utc_now(), cost=cost),
        ),
        UserError,
    )
    click.echo(f"added {'administrator' if added.is_admin else 'viewer'} {added.name}")
    if generated:
        click.echo(f"password (shown once): {secret}")


@user.command("password")
@click.argument("name")
@click.option(
    "--password-stdin",
    "from_stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)
@click.pass_context
def user_password(ctx: click.Context, name: str, from_stdin: bool) -> None:
    """Set an operator's password (typed, hidden) and end their sessions."""
    from ocpp_core.domain import users

    if from_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    else:
        secret = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    cost = cli_settings(ctx).management.password_hash_cost
    changed = _change(
        ctx, name, lambda s, i: users.set_password(s, user_id=i, password=secret, cost=cost)
    )
    click.echo(f"new password for {changed.name}; their sessions are ended")


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice([role.value for role in Role]))
@click.pass_context
def user_role(ctx: click.Context, name: str, role: str) -> None:
    """Make an operator an admin or a viewer (never the last enabled admin a viewer)."""
    from ocpp_core.domain import users

    changed = _change(ctx, name, lambda s, i: users.set_role(s, user_id=i, role=Role(role)))
    click.echo(f"{changed.name} is {'an administrator' if changed.is_admin else 'a viewer'}")


@user.command("disable")
@click.argument("name")
@click.pass_context
def user_disable(ctx: click.Context, name: str) -> None:
    """Stop an operator from logging in and end their sessions (never the last admin)."""
    from ocpp_core.domain import users

    changed = _change(ctx, name, lambda s, i: users.disable(s, user_id=i))
    click.echo(f"disabled {changed.name}; their sessions are ended")


@user.command("enable")
@click.argument("name")
@click.pass_context
def user_enable(ctx: click.Context, name: str) -> None:
    """Let a disabled operator log in again."""
    from ocpp_core.domain import users

    changed = _change(ctx, name, lambda s, i: users.enable(s, user_id=i))
    click.echo(f"enabled {changed.name}")


@user.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
@click.pass_context
def user_delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete an operator and their sessions (never the last admin)."""
    from ocpp_core.domain import users

    if not yes:
        click.confirm(f"Delete user {name}? It can't be undone", abort=True)
    changed = _change(ctx, name, lambda s, i: users.delete(s, user_id=i))
    click.echo(f"deleted {changed.name}")


def _change(
    ctx: click.Context, name: str, change: Callable[[AsyncSession, int], Awaitable[Operator]]
) -> Operator:
    """Apply ``change`` to the user called ``name``; a user error ends the command cleanly."""
    from ocpp_core.domain import users
    from ocpp_core.domain.users import UserError

    async def work(session: AsyncSession) -> Operator:
        return await change(session, (await users.find(session, name)).id)

    return run(in_session(cli_settings(ctx), work), UserError)
