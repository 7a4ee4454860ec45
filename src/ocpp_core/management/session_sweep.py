"""Expired operator sessions are deleted in the background, by one management node at a time.

An expired session is refused whether or not its row is still there; the sweep
only keeps the table small. It deletes in batches, each its own short
transaction, so a backlog never holds a long lock.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from ocpp_core.clock import Clock
from ocpp_core.db.locks import exclusive
from ocpp_core.db.session import Database
from ocpp_core.domain import operator_sessions

logger = logging.getLogger(__name__)

SWEEP_EVERY = 600.0  # seconds; nothing waits for it
LOCK_NAME = "operator-session-purge"


async def sweep_forever(db: Database, clock: Clock) -> None:
    while True:
        try:
            async with exclusive(db, LOCK_NAME) as mine:
                if mine:
                    await purge(db, now=clock())
        except Exception:
            logger.exception("purging expired operator sessions failed; trying again later")
        await asyncio.sleep(SWEEP_EVERY)


async def purge(db: Database, *, now: datetime, batch: int = operator_sessions.PURGE_BATCH) -> int:
    """Delete every session expired by ``now``, ``batch`` rows per transaction; how many."""
    total = 0
    while True:
        async with db.session() as session:
            deleted = await operator_sessions.purge_expired(session, now=now, batch=batch)
        total += deleted
        if deleted < batch:
            return total
