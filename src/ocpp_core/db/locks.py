"""One runner at a time for cluster-wide background work.

On PostgreSQL a session-level advisory lock, held on its own connection for
the whole sweep, makes the other nodes skip their turn. On SQLite one server
process runs per file (``db.server_lock``), and what management processes sweep
(expired sessions) is harmless twice, so there the lock is always granted.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from ocpp_core.db.session import Database


@asynccontextmanager
async def exclusive(db: Database, name: str) -> AsyncIterator[bool]:
    """Yields whether this process holds the lock named ``name`` for the block."""
    if db.is_sqlite:
        yield True
        return
    key = zlib.crc32(name.encode())
    async with db.connection() as connection:
        granted = bool(await connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}))
        try:
            yield granted
        finally:
            if granted:
                await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            await connection.commit()
