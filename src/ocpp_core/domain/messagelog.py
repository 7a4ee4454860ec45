"""The OCPP message log, written in batches off the message path.

A row per message would put a database round trip on every OCPP message; the
log instead queues entries and one task writes them together. ``close`` writes
what is still queued, so an orderly shutdown loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from ocpp_core.db.models import MessageLogEntry
from ocpp_core.db.session import Database

logger = logging.getLogger(__name__)

# Level 1 leaves out the chatter that says little and comes often.
_ROUTINE = frozenset({"BootNotification", "Heartbeat", "StatusNotification", "DataTransfer"})
_BATCH = 500
_MAX_BACKLOG = 100_000  # while the database is away; beyond this the oldest go


@dataclass(frozen=True, slots=True)
class LogEntry:
    logged_at: datetime
    charge_point_id: str
    direction: str  # "in" or "out"
    action: str
    payload: dict[str, Any] | None
    error_code: str | None = None
    connector_id: int | None = None


class MessageLog:
    def __init__(self, db: Database, level: int, flush_interval: float = 0.5) -> None:
        self._db = db
        self._level = level
        self._interval = flush_interval
        self._queue: list[LogEntry] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wants(self, action: str, *, always: bool = False) -> bool:
        """Level 0 logs nothing; errors and security events count as non-routine."""
        if self._level == 0:
            return False
        return always or self._level == 2 or action not in _ROUTINE

    def record(self, entry: LogEntry, *, always: bool = False) -> None:
        if not self.wants(entry.action, always=always):
            return
        self._queue.append(entry)
        if len(self._queue) >= _BATCH:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="message-log")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self.flush()
        except DBAPIError:
            logger.exception("message log: %d entries could not be written", len(self._queue))

    async def flush(self) -> None:
        """Write the queue; while the database is unreachable the entries wait for the next try.

        A batch that fails for its content is retried row by row, so one bad entry
        is dropped (and logged) instead of blocking every entry after it.
        """
        batch, self._queue = self._queue, []
        if not batch:
            return
        try:
            await self._insert(batch)
        except (OperationalError, InterfaceError):
            self._queue[:0] = batch[-_MAX_BACKLOG:]
            raise
        except DBAPIError:
            for position, entry in enumerate(batch):
                try:
                    await self._insert([entry])
                except (OperationalError, InterfaceError):
                    self._queue[:0] = batch[position:][-_MAX_BACKLOG:]
                    raise
                except DBAPIError:
                    logger.exception("message log entry dropped: %r", entry)

    async def _insert(self, entries: list[LogEntry]) -> None:
        async with self._db.session() as session:
            await session.execute(insert(MessageLogEntry), [_row(e) for e in entries])

    async def _run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
            except DBAPIError:
                logger.exception("writing the message log failed; retrying")


def _row(entry: LogEntry) -> dict[str, Any]:
    return {
        "logged_at": entry.logged_at,
        "charge_point_id": entry.charge_point_id,
        "connector_id": entry.connector_id,
        "direction": entry.direction,
        "action": entry.action,
        "payload": orjson.dumps(entry.payload).decode() if entry.payload is not None else None,
        "error_code": entry.error_code,
    }
