"""When each charger was last heard from, written to the database in batches.

Every message a charger sends proves it is alive, and 100,000 chargers send
hundreds a second; an UPDATE for each would be most of the server's work. The
time is what operators read ("last seen 10:42:07"); whether a charger is
online comes from its live websocket, not from this column. So the times are
kept in memory and written together every few seconds, one statement for the
lot. A crash loses at most that many seconds of "last seen", never a message.
While the database can't be reached the times wait (one per charger, newest
wins), and the next round after it is back writes them.
The OCPP version a charger connected with travels the same way: BootNotification
stores it at once, and a charger that reconnects without booting keeps its version.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, or_, update

from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.db.models import ChargePoint
from ocpp_core.db.session import Database

logger = logging.getLogger(__name__)


_table = cast(Table, ChargePoint.__table__)
# Never backwards: a connect or disconnect written meanwhile may be newer.
_TOUCH = (
    update(_table)
    .where(_table.c.id == bindparam("cp"))
    .where(or_(_table.c.last_seen_at.is_(None), _table.c.last_seen_at < bindparam("at")))
    .values(last_seen_at=bindparam("at"))
)
_PROTOCOL = (
    update(_table).where(_table.c.id == bindparam("cp")).values(protocol=bindparam("protocol"))
)


class Presence:
    def __init__(self, db: Database, flush_interval: float = 5.0) -> None:
        self._db = db
        self._interval = flush_interval
        self._pending: dict[str, datetime] = {}
        self._protocols: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    def seen(self, charge_point_id: str, at: datetime, protocol: str | None = None) -> None:
        self._pending[charge_point_id] = at
        if protocol is not None:
            self._protocols[charge_point_id] = protocol

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="presence")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self.flush()
        except DatabaseUnavailable:
            logger.error("presence: %d last-seen times not written", len(self._pending))

    async def flush(self) -> None:
        """Write what is pending; if the database refuses, keep it (newest wins) for next time."""
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        protocols, self._protocols = self._protocols, {}
        try:
            async with self._db.session() as session:
                await session.execute(_TOUCH, [{"cp": cp, "at": at} for cp, at in batch.items()])
                if protocols:
                    rows = [{"cp": cp, "protocol": p} for cp, p in protocols.items()]
                    await session.execute(_PROTOCOL, rows)
        except BaseException:
            for cp, at in batch.items():
                self._pending.setdefault(cp, at)
            for cp, protocol in protocols.items():
                self._protocols.setdefault(cp, protocol)
            raise

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except DatabaseUnavailable:
                pass  # the database's health says so; the next round tries again
            except Exception:  # a bug: logged, and the writer keeps running
                logger.exception("presence: writing last-seen times failed")
