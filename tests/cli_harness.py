"""Driving the ``ocpp-core`` command line in-process against a test database.

The commands run their own event loop (``asyncio.run``), so the tests that use
these helpers are synchronous; ``query`` reads the database the same way.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from click.testing import CliRunner, Result
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.cli import main
from ocpp_core.db.session import Database

if TYPE_CHECKING:
    from servers import RunningServer  # which imports this module

T = TypeVar("T")
Env = dict[str, str | None]


def env_for(database_url: str) -> Env:
    """The test database, and none of the OCPP_CORE_* settings of the shell running the tests."""
    inherited: Env = {name: None for name in os.environ if name.startswith("OCPP_CORE_")}
    return {**inherited, "OCPP_CORE_DATABASE_URL": database_url}


def run(args: Sequence[str], env: Env, *, exit_code: int = 0, stdin: str | None = None) -> Result:
    """``ocpp-core ARGS``, which must exit with ``exit_code``; stdin is what the user types."""
    result = CliRunner().invoke(main, list(args), env=env, input=stdin)
    # Anything but a clean exit (SystemExit from click) is a crash with a traceback.
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == exit_code, result.output
    return result


async def run_beside_server(
    args: Sequence[str], env: Env, *, exit_code: int = 0, stdin: str | None = None
) -> Result:
    """``run``, in a thread: the server the command talks to serves on this test's loop."""
    return await asyncio.to_thread(run, args, env, exit_code=exit_code, stdin=stdin)


def api_env(server: RunningServer) -> Env:
    """The server's key, as an operator sets it, for commands that drive the server."""
    settings = server.runtime.settings
    key = settings.api_key.get_secret_value()
    return {**env_for(settings.database_url), "OCPP_CORE_API_KEY": key}


async def drive(server: RunningServer, env: Env, *args: str, exit_code: int = 0) -> tuple[str, str]:
    """``ocpp-core ARGS --url`` the server: what it printed, and its one-line error."""
    done = await run_beside_server([*args, "--url", server.http_url], env, exit_code=exit_code)
    return done.stdout, done.stderr


def query(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """The work's result, in one session of the database."""

    async def go() -> T:
        db = Database(database_url)
        try:
            async with db.session() as session:
                return await work(session)
        finally:
            await db.close()

    return asyncio.run(go())


def provision(
    database_url: str, folder: Path, charge_point_ids: Sequence[str], tags: Sequence[str]
) -> None:
    """Migrate, then add the chargers (from a CSV file) and tags as an operator would."""
    env = env_for(database_url)
    run(["db", "upgrade"], env)
    table = folder / "chargers.csv"
    table.write_text("".join(f"{line}\n" for line in ["id", *charge_point_ids]))
    run(["chargepoint", "import", "--allow-no-password", str(table)], env)
    for tag in tags:
        run(["tag", "add", tag], env)
