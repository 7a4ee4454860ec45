"""Apply Alembic migrations from code, so start-up and the CLI share one path."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config

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
