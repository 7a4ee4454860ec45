"""Apply Alembic migrations from code, so start-up and the CLI share one path."""

from __future__ import annotations

import asyncio
import functools
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from ocpp_core.db.session import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


# Alembic keeps its running context in module globals: two upgrades at once in one
# process (two apps starting together) would tear each other's context down.
_one_at_a_time = threading.Lock()


def _upgrade(database_url: str, revision: str) -> None:
    with _one_at_a_time:
        command.upgrade(alembic_config(database_url), revision)


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Run the migrations; Alembic is synchronous, so it runs off the event loop."""
    await asyncio.to_thread(_upgrade, database_url, revision)


@functools.cache
def _head() -> str | None:
    """The newest migration, read once per process: Alembic loads every migration file for it."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def bring_up_to_date(db: Database, database_url: str) -> None:
    """An app's start-up migrations, for a database usually already at the head.

    Alembic would load and run every migration file to find there is nothing to do;
    a look at the version table says so at once, so only a new database or one
    behind goes through ``upgrade``. So does one that can't be read: the error a
    user sees is then the one ``upgrade`` gives, which names the address it tried.
    """
    head = await asyncio.to_thread(_head)
    try:
        async with db.engine.connect() as connection:
            versions = await connection.run_sync(_versions)
    except (DBAPIError, OSError):
        versions = []
    if versions != [head]:
        await upgrade(database_url)


def _versions(connection: Connection) -> list[str]:
    if not inspect(connection).has_table("alembic_version"):  # Alembic's own table
        return []
    return list(connection.scalars(text("SELECT version_num FROM alembic_version")))
