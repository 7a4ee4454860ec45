"""What every ``ocpp-core`` command shares: settings, running database work, clean errors.

It lives apart from ``ocpp_core.cli`` because that module imports the subcommands
(``qr``, ``management``, ...) that use these helpers.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.config import ConfigError, Settings, load_settings
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.session import Database

T = TypeVar("T")

_GC_YOUNG = 50_000  # allocations between young collections (Python's default: 700)


@contextmanager
def user_errors(*errors: type[Exception]) -> Iterator[None]:
    """End the command with the message of any of these errors, without a traceback."""
    try:
        yield
    except errors as error:
        raise click.ClickException(str(error)) from None


def cli_settings(ctx: click.Context, **overrides: Any) -> Settings:
    """The settings of ``--config`` (given to the main group) with these overrides."""
    root = ctx.find_root().obj
    config = root.get("config") if isinstance(root, dict) else None
    with user_errors(ConfigError):
        return load_settings(config, **overrides)


def serve_forever(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a long-lived service on uvloop where it exists (not on Windows).

    The event loop's own work is a large share of each OCPP message's cost;
    uvloop roughly halves it. ``uvicorn.Server.serve`` runs in whatever loop
    calls it, so the choice is made here rather than by uvicorn's ``loop`` option.

    The garbage collector is tuned for a server holding thousands of sockets:
    what exists at start (modules, the app) is frozen out of its scans, and it
    runs less often, since each full scan walks every live connection's objects
    and stalls every charger's answer meanwhile (the p99 latency showed it).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(_GC_YOUNG, *gc.get_threshold()[1:])
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def run(coroutine: Coroutine[Any, Any, T], *errors: type[Exception]) -> T:
    """Run the coroutine; the given user errors and database failures end the command cleanly."""
    try:
        with user_errors(*errors):
            return asyncio.run(coroutine)
    except DBAPIError as error:  # unreachable server, missing database, wrong credentials
        raise click.ClickException(f"database error: {error.orig}") from None
    except OSError as error:  # refused connection, unresolvable host
        raise click.ClickException(f"database error: {error}") from None


async def in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Migrate first if configured to, then do the work in one session of a fresh database."""
    if settings.migrate_on_start:
        await upgrade(settings.database_url)
    db = Database(settings.database_url, limits=settings.database)
    try:
        async with db.session() as session:
            return await work(session)
    finally:
        await db.close()
