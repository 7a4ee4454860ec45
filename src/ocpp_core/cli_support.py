"""What every ``ocpp-core`` command shares: settings, running database work, clean errors.

It lives apart from ``ocpp_core.cli`` because that module imports the subcommands
(``qr``, ``management``, ...) that use these helpers.

Every command module imports only click and light helpers at the top; settings
(pydantic), the database layer (SQLAlchemy) and the apps are imported by the
functions that use them, so ``ocpp-core --help``, and any command until it
starts its own work, loads in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ocpp_core.config import Settings
    from ocpp_core.listening import Listener

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
    from ocpp_core.config import ConfigError, load_settings

    root = ctx.find_root().obj
    config = root.get("config") if isinstance(root, dict) else None
    with user_errors(ConfigError):
        return load_settings(config, **overrides)


def serve_forever(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a long-lived service (see ``ocpp_core.loops``) with the collector tuned for it.

    The garbage collector is tuned for a server holding thousands of sockets:
    what exists at start (modules, the app) is frozen out of its scans, and it
    runs less often, since each full scan walks every live connection's objects
    and stalls every charger's answer meanwhile (the p99 latency showed it).
    """
    from ocpp_core.loops import run_fast

    gc.collect()
    gc.freeze()
    gc.set_threshold(_GC_YOUNG, *gc.get_threshold()[1:])
    return run_fast(coroutine)


def run_servers(*listeners: Listener) -> None:
    """Serve until Ctrl-C or SIGTERM; a port taken or a certificate unusable is a clear error."""
    from ocpp_core.listening import CannotServe, serve_all

    with user_errors(CannotServe), contextlib.suppress(KeyboardInterrupt):
        serve_forever(serve_all(*listeners))


def run(coroutine: Coroutine[Any, Any, T], *errors: type[Exception]) -> T:
    """Run the coroutine; the given user errors and database failures end the command cleanly."""
    import asyncio

    from sqlalchemy.exc import DBAPIError

    try:
        with user_errors(*errors):
            return asyncio.run(coroutine)
    except (DBAPIError, OSError) as error:
        raise click.ClickException(database_error(error)) from None


def database_error(error: Exception) -> str:
    """A database that refused the work in one line: its driver's words, not a traceback."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError):  # unreachable server, missing database, wrong credentials
        return f"database error: {error.orig}"
    return f"database error: {error}"  # refused connection, unresolvable host


async def in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Migrate first if configured to, then do the work in one session of a fresh database."""
    from ocpp_core.db.migrate import upgrade
    from ocpp_core.db.session import Database

    if settings.migrate_on_start:
        await upgrade(settings.database_url)
    db = Database(settings.database_url, limits=settings.database)
    try:
        async with db.session() as session:
            return await work(session)
    finally:
        await db.close()
