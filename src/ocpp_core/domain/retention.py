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

from sqlalchemy import delete, select, tuple_

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

_Key = tuple[datetime, int]


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
    deleted, last = 0, None
    while True:
        began = loop.time()
        keys = await _delete_oldest(db, cutoff, last, batch)
        deleted += len(keys)
        if len(keys) < batch:
            return deleted
        last = max(keys)
        await asyncio.sleep(max(MIN_PAUSE, loop.time() - began))


async def _delete_oldest(
    db: Database, cutoff: datetime, last: _Key | None, batch: int
) -> list[_Key]:
    """Delete one batch; the keys (time, id) of the rows it deleted."""
    log = MessageLogEntry
    conditions = [log.logged_at < cutoff]
    if last is not None:
        # Start where the last batch ended: the index entries it left are dead until the
        # next vacuum, and walking past them each time made every batch slower than the last.
        conditions.append(tuple_(log.logged_at, log.id) > tuple_(*last))
    oldest = select(log.id).where(*conditions).order_by(log.logged_at, log.id).limit(batch)
    statement = (
        delete(log)
        .where(log.id.in_(oldest))
        .returning(log.logged_at, log.id)
        .execution_options(synchronize_session=False)
    )
    async with db.session() as session:
        return [(row.logged_at, row.id) for row in await session.execute(statement)]
