"""Apply Alembic migrations from code, so start-up and the CLI share one path."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Run the migrations; Alembic is synchronous, so it runs off the event loop."""
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), revision)
