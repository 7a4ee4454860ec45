"""The message log's retention: rows older than the configured days go, a batch at a time.

A busy charger fleet logs millions of rows a month; one DELETE of all that is
old would hold a huge transaction and stall the writers the chargers' answers
wait for. So each statement deletes the oldest few thousand rows (an index
scan on ``logged_at``), and the sweep pauses at least as long as each batch
took. It runs on one node at a time (an advisory lock on PostgreSQL), and since
it deletes by age, a second run deletes only what the first left.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select

from ocpp_core.clock import Clock
from ocpp_core.db.locks import exclusive
from ocpp_core.db.models import MessageLogEntry
from ocpp_core.db.session import Database

logger = logging.getLogger(__name__)

BATCH_ROWS = 5_000
MIN_PAUSE = 0.2  # seconds between two batches
FIRST_RUN_AFTER = 60.0  # seconds: start-up is when a fleet reconnects, not the time to sweep
EVERY = 3_600.0  # seconds
_LOCK = "message-log-retention"


async def run_forever(db: Database, days: int, clock: Clock) -> None:
    """Sweep every hour; ``days`` 0 keeps the log for ever."""
    if days == 0:
        return
    await asyncio.sleep(FIRST_RUN_AFTER)
    while True:
        try:
            deleted = await sweep_once(db, days, now=clock())
        except Exception:
            logger.exception("message log retention failed; trying again next round")
        else:
            if deleted:
                logger.info("message log: %d entries older than %d days deleted", deleted, days)
        await asyncio.sleep(EVERY)


async def sweep_once(db: Database, days: int, *, now: datetime, batch: int = BATCH_ROWS) -> int:
    """Delete what is older than ``days`` (unless another node is at it); how many went."""
    async with exclusive(db, _LOCK) as mine:
        if not mine:
            return 0
        return await delete_before(db, now - timedelta(days=days), batch=batch)


async def delete_before(db: Database, cutoff: datetime, *, batch: int = BATCH_ROWS) -> int:
    """Delete the entries logged before ``cutoff``, oldest first, ``batch`` per statement."""
    loop = asyncio.get_running_loop()
    deleted = 0
    while True:
        began = loop.time()
        count = await _delete_oldest(db, cutoff, batch)
        deleted += count
        if count < batch:
            return deleted
        await asyncio.sleep(max(MIN_PAUSE, loop.time() - began))


async def _delete_oldest(db: Database, cutoff: datetime, batch: int) -> int:
    oldest = (
        select(MessageLogEntry.id)
        .where(MessageLogEntry.logged_at < cutoff)
        .order_by(MessageLogEntry.logged_at, MessageLogEntry.id)
        .limit(batch)
    )
    statement = (
        delete(MessageLogEntry)
        .where(MessageLogEntry.id.in_(oldest))
        .execution_options(synchronize_session=False)
    )
    async with db.session() as session:
        result = await session.execute(statement)
    return cast(CursorResult[Any], result).rowcount
