"""``ocpp-core management`` and ``ocpp-core user``; the main ``ocpp-core`` group attaches them."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

import click
import uvicorn
from pydantic import SecretStr
from sqlalchemy.exc import DBAPIError

from ocpp_core.clock import utc_now
from ocpp_core.config import ConfigError, Settings, load_settings
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.session import Database
from ocpp_core.domain import users
from ocpp_core.domain.users import Operator, Role, UserError
from ocpp_core.logs import configure_logging
from ocpp_core.management.app import create_management_app
from ocpp_core.management.run import ListenError, serve_all, uvicorn_config

GENERATED_PASSWORD_BYTES = 12  # 16 characters of URL-safe base64: 96 bits


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    try:
        return load_settings(ctx.obj.get("config"), **overrides)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def listen_overrides(host: str | None, port: int | None) -> dict[str, Any]:
    """``management=`` settings overrides for the flags given (none: keep the configuration)."""
    given = {"host": host, "port": port}
    return {"management": {k: v for k, v in given.items() if v is not None} or None}


def one_process_settings(settings: Settings) -> Settings:
    """What ``serve`` can make up for itself: secrets for this run, the local server's URL."""
    changes: dict[str, Any] = {}
    if not settings.api_key.get_secret_value():
        key = secrets.token_urlsafe(24)
        changes["api_key"] = SecretStr(key)
        click.echo(f"no OCPP_CORE_API_KEY set: this run's API key is {key}", err=True)
    management = settings.management
    section: dict[str, Any] = {}
    if not management.session_secret.get_secret_value():
        section["session_secret"] = SecretStr(secrets.token_urlsafe(32))
        click.echo(
            "no OCPP_CORE_MANAGEMENT__SESSION_SECRET set: logins last until this process stops",
            err=True,
        )
    if "server_api_url" not in management.model_fields_set:
        section["server_api_url"] = _local_server_url(settings)
    changes["management"] = management.model_copy(update=section)
    return settings.model_copy(update=changes)


def _local_server_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in {"", "0.0.0.0", "::"} else settings.host  # noqa: S104
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if settings.tls.certfile else "http"
    return f"{scheme}://{host}:{settings.port}"


@click.command("management")
@click.option("--host", help="Listen address (default 127.0.0.1).")
@click.option("--port", type=int, help="Listen port (default 8082).")
@click.pass_context
def management_command(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the management app alone: the operators' pages.

    It reads the database and asks the server at OCPP_CORE_MANAGEMENT__SERVER_API_URL
    (with OCPP_CORE_API_KEY) for live state.
    """
    settings = _settings(ctx, **listen_overrides(host, port))
    configure_logging(settings.log_level)
    try:
        app = create_management_app(settings)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    run_servers(uvicorn_config(app, settings))


def run_servers(*configs: uvicorn.Config) -> None:
    """Serve until Ctrl-C or SIGTERM; a port that can't be bound is a clear error."""
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_all(*configs))
    except ListenError as error:
        raise click.ClickException(str(error)) from None


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
    if password is not None and ask:
        raise click.UsageError("give --password or --prompt, not both")
    if ask:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    generated = password is None
    secret = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES) if password is None else password
    role = Role.ADMIN if admin else Role.VIEWER
    added = _run_user_add(_settings(ctx), name=name, password=secret, role=role)
    click.echo(f"added {'administrator' if added.is_admin else 'viewer'} {added.name}")
    if generated:
        click.echo(f"password (shown once): {secret}")


def _run_user_add(settings: Settings, *, name: str, password: str, role: Role) -> Operator:
    try:
        return asyncio.run(_add_user(settings, name=name, password=password, role=role))
    except UserError as error:
        raise click.ClickException(str(error)) from None
    except DBAPIError as error:
        raise click.ClickException(f"database error: {error.orig}") from None
    except OSError as error:
        raise click.ClickException(f"database error: {error}") from None


async def _add_user(settings: Settings, *, name: str, password: str, role: Role) -> Operator:
    if settings.migrate_on_start:
        await upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            return await users.add(session, name=name, password=password, role=role, now=utc_now())
    finally:
        await db.close()
