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

Whether a charger is connected is written at once, though, as it happens: any
node (and the management app) reads it from the database, so the dashboard's
counts and filters are SQL and every process agrees. Each connection writes a
token of its own (node id / serial), so the close of a replaced socket never
clears the newer connection's row. A node renews the lease of its chargers
while it lives; every node clears leases that ran out, which is how the
chargers of a node that died go offline.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Table, Update, bindparam, or_, update

from ocpp_core.clock import Clock, utc_now
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
_CONNECT = (
    update(_table)
    .where(_table.c.id == bindparam("cp"))
    .values(
        online_node=bindparam("token"),
        online_until=bindparam("until"),
        protocol=bindparam("protocol"),
    )
)
_OFFLINE = {"online_node": None, "online_until": None}
_DISCONNECT = (
    update(_table)
    .where(_table.c.id == bindparam("cp"), _table.c.online_node == bindparam("token"))
    .values(_OFFLINE)
)
_RECLAIM = _CONNECT.where(_table.c.online_node.is_(None))
_EXPIRE = update(_table).where(_table.c.online_until < bindparam("now")).values(_OFFLINE)
LEASE = timedelta(seconds=90)
RENEW_EVERY = timedelta(seconds=30)


def online() -> ColumnElement[bool]:
    """Charge points whose websocket some node holds, as every node and app reads it."""
    return ChargePoint.online_node.is_not(None)


class Presence:
    def __init__(self, db: Database, flush_interval: float = 5.0, clock: Clock = utc_now) -> None:
        self._db = db
        self._interval = flush_interval
        self._clock = clock
        self._pending: dict[str, datetime] = {}
        self._protocols: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._node = uuid.uuid4().hex
        self._serials = itertools.count(1)
        self._mine = _table.c.online_node.startswith(f"{self._node}/")
        self._renewed_at: datetime | None = None
        # Connects and disconnects the database refused, by token: written at the next renewal.
        self._joins: dict[str, dict[str, object]] = {}
        self._leaves: dict[str, str] = {}

    async def connected(self, charge_point_id: str, protocol: str) -> str:
        """Write that this node holds the charger's socket now; the token names the connection."""
        token = f"{self._node}/{next(self._serials)}"
        values: dict[str, object] = {"cp": charge_point_id, "token": token, "protocol": protocol}
        try:
            await self._write(_CONNECT, values | {"until": self._clock() + LEASE})
        except DatabaseUnavailable:
            logger.warning("presence: %s connected, written when the database is back", token)
            self._joins[token] = values
        return token

    async def disconnected(self, charge_point_id: str, token: str) -> None:
        """Clear the charger's presence, unless a newer connection (anywhere) took it over."""
        if self._joins.pop(token, None) is not None:
            # Not written yet, unless a renewal is writing it right now: clear it after.
            self._leaves[token] = charge_point_id
            return
        try:
            await self._write(_DISCONNECT, {"cp": charge_point_id, "token": token})
        except DatabaseUnavailable:
            logger.warning("presence: %s disconnected, written when the database is back", token)
            self._leaves[token] = charge_point_id

    async def released(self, rows: list[tuple[str, str]]) -> None:
        """Clear the rows of connections another node held when it died, (charger, token)
        each, in one statement; a row a newer connection wrote is left alone."""
        if not rows:
            return
        try:
            async with self._db.session() as session:
                await session.execute(_DISCONNECT, [{"cp": cp, "token": t} for cp, t in rows])
        except DatabaseUnavailable:
            logger.warning("presence: %d chargers of a dead node cleared later", len(rows))
            self._leaves.update((token, cp) for cp, token in rows)

    async def reclaimed(self, rows: list[tuple[str, str, str]]) -> None:
        """Write again the rows of this node's connections, (charger, token, protocol) each,
        that another node cleared while this one was cut off from the cluster; a row
        that names another connection (the charger moved meanwhile) is left alone."""
        if not rows:
            return
        until = self._clock() + LEASE
        values = [{"cp": cp, "token": t, "protocol": p, "until": until} for cp, t, p in rows]
        async with self._db.session() as session:
            await session.execute(_RECLAIM, values)

    async def renew(self) -> None:
        """Extend the leases of this node's chargers; clear the ones that ran out (dead nodes).

        Connects and disconnects the database refused before are written first.
        """
        now = self._clock()
        joins = dict(self._joins)
        leaves = dict(self._leaves)
        async with self._db.session() as session:
            if joins:
                rows = [values | {"until": now + LEASE} for values in joins.values()]
                await session.execute(_CONNECT, rows)
            if leaves:
                rows = [{"cp": cp, "token": token} for token, cp in leaves.items()]
                await session.execute(_DISCONNECT, rows)
            await session.execute(update(_table).where(self._mine).values(online_until=now + LEASE))
            await session.execute(_EXPIRE, {"now": now})
        for token in joins:
            self._joins.pop(token, None)
        for token in leaves:
            self._leaves.pop(token, None)
        self._renewed_at = now

    async def _write(self, statement: Update, row: dict[str, object]) -> None:
        """In the next group commit: a storm of chargers connecting shares its transactions."""
        await self._db.group_execute(statement, row)

    async def _renew_when_due(self) -> None:
        if self._renewed_at is None or self._clock() - self._renewed_at >= RENEW_EVERY:
            await self.renew()

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
            await self._forget_mine()
        except DatabaseUnavailable:
            logger.error("presence: %d last-seen times not written", len(self._pending))

    async def _forget_mine(self) -> None:
        """A node that stops holds no socket: its chargers are offline until they reconnect."""
        async with self._db.session() as session:
            await session.execute(update(_table).where(self._mine).values(_OFFLINE))

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
                await self._renew_when_due()
            except DatabaseUnavailable:
                pass  # the database's health says so; the next round tries again
            except Exception:  # a bug: logged, and the writer keeps running
                logger.exception("presence: writing last-seen times failed")
