"""The OCPP message log, written in batches: one row per exchange, bounded and without secrets.

A row holds a call and its answer (or the CALLERROR), whichever side called.
Each of the two is kept up to a configured size, cut at a character boundary
with a visible marker, so a frame of a megabyte costs the log a few KiB; known
secrets are redacted before anything is kept (see :mod:`.redaction`).

A transaction per message would put a commit on every OCPP message; the log
instead queues entries and one task writes all that is queued in one statement,
then at once the next batch (what queued while it wrote). A charger's message
is answered only after the batch holding its entry was written (``record``
hands back what to wait for), so a crash loses no message that was answered:
the charger resends what it got no answer for. A MeterValues, the most frequent
call, skips the queue: its row is inserted in the transaction that stores its
readings (:meth:`MessageLog.row`, :func:`insert_rows`), which answers it with one
commit instead of two in a row.

While the database can't be reached, that holds too: a batch that could not be
written tells its waiters so, and their chargers get an error and resend (then
the entry is written with the resent message). Nobody waits for the entries of
our own calls to chargers; those wait in memory for the next try, at most
``_MAX_BACKLOG`` of them, the oldest dropped first.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.db.models import MessageLogEntry
from ocpp_core.db.prepared import Prepared
from ocpp_core.db.session import Database
from ocpp_core.domain.redaction import payload_may_hold_secret, redact

logger = logging.getLogger(__name__)

# Level 1 leaves out the chatter that says little and comes often.
_ROUTINE = frozenset({"BootNotification", "Heartbeat", "StatusNotification", "DataTransfer"})
# The columns' widths; what a charger sends may not fit, and one row that can't be
# written would hold up the whole batch.
_ACTION_LENGTH = _ERROR_CODE_LENGTH = 50
_MAX_BACKLOG = 10_000  # our calls' entries kept while the database is away
_RETRY_AFTER = 1.0  # seconds between tries while entries wait for the database
_table = cast(Table, MessageLogEntry.__table__)
_INSERT_ROWS = Prepared(
    lambda _: insert(_table),
    (
        "logged_at",
        "charge_point_id",
        "connector_id",
        "direction",
        "action",
        "payload",
        "answer",
        "error_code",
    ),
)


@dataclass(frozen=True, slots=True)
class LogEntry:
    logged_at: datetime
    charge_point_id: str
    direction: str  # "in" or "out"
    action: str
    payload: dict[str, Any] | None
    error_code: str | None = None
    connector_id: int | None = None
    answer: dict[str, Any] | None = None  # a result's payload, or a CALLERROR's text and details


class MessageLog:
    def __init__(self, db: Database, level: int, *, max_bytes: int) -> None:
        self._db = db
        self._level = level
        self._max_bytes = max_bytes
        self._queue: list[LogEntry] = []
        # The queue's batch: True once written, False if the database could not be reached.
        self._written: asyncio.Future[bool] | None = None
        self._dropped = 0  # our calls' entries dropped from a full backlog
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wants(self, action: str, *, always: bool = False) -> bool:
        """Level 0 logs nothing; errors and security events count as non-routine."""
        if self._level == 0:
            return False
        return always or self._level == 2 or action not in _ROUTINE

    def row(self, entry: LogEntry) -> dict[str, Any] | None:
        """The row that keeps ``entry``, for a write that stores it with its own statements.

        None if the log keeps no such entry. See :func:`insert_rows`.
        """
        return _row(entry, self._max_bytes) if self.wants(entry.action) else None

    def record(self, entry: LogEntry, *, always: bool = False) -> asyncio.Future[bool] | None:
        """Queue the entry; whether it was written, once that is known (None if not kept)."""
        if not self.wants(entry.action, always=always):
            return None
        self._queue.append(entry)
        if self._written is None:
            self._written = asyncio.get_running_loop().create_future()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="message-log")
        self._wake.set()
        return self._written

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        written = await self.flush()
        if self._queue:
            logger.error("message log: %d entries could not be written", len(self._queue))
        _settle(self._written, written)
        self._written = None

    async def flush(self) -> bool:
        """Write the queue; False if the database could not be reached.

        A batch that fails for its content is retried row by row, so one bad entry
        is dropped (and logged) instead of blocking every entry after it.
        """
        batch, self._queue = self._queue, []
        if not batch:
            return True
        try:
            await self._insert(batch)
        except DatabaseUnavailable:
            self._keep_unawaited(batch)
            return False
        except DBAPIError:
            return await self._insert_each(batch)
        return True

    async def _insert_each(self, batch: list[LogEntry]) -> bool:
        for position, entry in enumerate(batch):
            try:
                await self._insert([entry])
            except DatabaseUnavailable:
                self._keep_unawaited(batch[position:])
                return False
            except DBAPIError:  # the payload stays out of the application log
                logger.exception(
                    "message log entry dropped: %s %s of %r",
                    entry.direction,
                    entry.action,
                    entry.charge_point_id,
                )
        return True

    def _keep_unawaited(self, batch: list[LogEntry]) -> None:
        """Keep our calls' entries for the next try; the chargers resend the rest."""
        kept = [entry for entry in batch if entry.direction == "out"] + self._queue
        overflow = max(0, len(kept) - _MAX_BACKLOG)
        if overflow and not self._dropped:
            logger.warning("message log: the backlog is full; the oldest entries are dropped")
        self._dropped += overflow
        self._queue = kept[overflow:]

    async def _insert(self, entries: list[LogEntry]) -> None:
        # Through the session, not the driver: a row the database refuses is a DBAPIError
        # here, which flush tells from an outage (see :func:`insert_rows`).
        async with self._db.session() as session:
            await session.execute(insert(_table), [_row(e, self._max_bytes) for e in entries])

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            written, self._written = self._written, None
            try:
                ok = await self.flush()
            except Exception:  # a bug: logged, and the log keeps running
                logger.exception("writing the message log failed")
                ok = False
            _settle(written, ok)
            if ok:
                self._report_dropped()
            elif self._queue:
                await asyncio.sleep(_RETRY_AFTER)
                self._wake.set()

    def _report_dropped(self) -> None:
        if self._dropped:
            logger.warning("message log: %d entries dropped from a full backlog", self._dropped)
            self._dropped = 0


async def insert_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert log rows (see :meth:`MessageLog.row`) in the session's transaction, one statement.

    Run by the driver (see :mod:`ocpp_core.db.prepared`): a MeterValues group writes
    its messages' rows, the most frequent write of all.
    """
    await _INSERT_ROWS.execute_many(session, rows)


def _settle(written: asyncio.Future[bool] | None, ok: bool) -> None:
    if written is not None and not written.done():
        written.set_result(ok)


def _row(entry: LogEntry, max_bytes: int) -> dict[str, Any]:
    return {
        "logged_at": entry.logged_at,
        "charge_point_id": entry.charge_point_id,
        "connector_id": entry.connector_id,
        "direction": entry.direction,
        "action": entry.action[:_ACTION_LENGTH],
        "payload": _stored(entry.payload, max_bytes),
        "answer": _stored(entry.answer, max_bytes),
        "error_code": entry.error_code[:_ERROR_CODE_LENGTH] if entry.error_code else None,
    }


def _stored(payload: dict[str, Any] | None, max_bytes: int) -> str | None:
    """The payload as the log keeps it: JSON, without secrets, at most ``max_bytes``."""
    if payload is None:
        return None
    data = orjson.dumps(payload)
    if payload_may_hold_secret(payload, data):
        data = orjson.dumps(redact(payload))
    return capped(data, max_bytes)


def capped(data: bytes, max_bytes: int) -> str:
    """UTF-8 text of at most ``max_bytes``; a longer one is cut and says how long it was."""
    if len(data) <= max_bytes:
        return data.decode()
    marker = f"…[truncated, {len(data)} bytes]"
    kept = data[: max(0, max_bytes - len(marker.encode()))]
    return kept.decode(errors="ignore") + marker  # "ignore": a character cut in two goes
