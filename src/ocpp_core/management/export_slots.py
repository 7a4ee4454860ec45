"""How many exports run at once: each holds a slot for as long as it streams.

A year's export keeps a database connection and a worker thread busy for
seconds. A few at once are fine; operators clicking "export" again and again
while the first is still coming must not queue up work the chargers' server
shares. On PostgreSQL the slots are advisory locks, each held on a
connection of its own, so the limit holds across every node of a cluster and
a node that dies frees its slots with its connections. SQLite serves one
process by nature (as :mod:`ocpp_core.db.locks` says), so there a count kept
by the process is the whole truth.
"""

from __future__ import annotations

import zlib
from contextlib import AsyncExitStack
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ocpp_core.db.session import Database

# The first half of the two-part advisory lock key; the slot's number is the second.
_LOCK_SPACE = zlib.crc32(b"ocpp-core export slots") - 2**31


@dataclass
class Slot:
    """A slot taken; ``give_back`` frees it (a second call does nothing)."""

    owner: ExportSlots
    number: int
    lock: AsyncExitStack | None = None  # PostgreSQL: holds the connection with the lock
    held: bool = True

    async def give_back(self) -> None:
        if not self.held:
            return
        self.held = False
        if self.lock is None:
            self.owner.running -= 1
        else:
            await self.lock.aclose()


@dataclass
class ExportSlots:
    running: int = 0  # SQLite only: the exports this process is streaming

    async def take(self, db: Database, *, limit: int) -> Slot | None:
        """A free slot of ``limit``, or None when that many exports are running."""
        if db.is_sqlite:
            if self.running >= limit:
                return None
            self.running += 1
            return Slot(self, self.running)
        stack = AsyncExitStack()
        try:
            connection = await stack.enter_async_context(db.connection())
            for number in range(limit):
                if await _locked(connection, number):
                    stack.push_async_callback(_unlock, connection, number)
                    return Slot(self, number, stack)
        except BaseException:
            await stack.aclose()
            raise
        await stack.aclose()
        return None


async def _locked(connection: AsyncConnection, number: int) -> bool:
    granted = await connection.scalar(
        text("SELECT pg_try_advisory_lock(:space, :slot)"), {"space": _LOCK_SPACE, "slot": number}
    )
    await connection.commit()  # the lock is the session's, it outlives the transaction
    return bool(granted)


async def _unlock(connection: AsyncConnection, number: int) -> None:
    await connection.execute(
        text("SELECT pg_advisory_unlock(:space, :slot)"), {"space": _LOCK_SPACE, "slot": number}
    )
    await connection.commit()
