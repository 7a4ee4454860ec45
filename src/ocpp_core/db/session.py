"""Engine and session factory; the only place that knows which driver is in use."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState
from sqlalchemy.sql import Executable

from ocpp_core.config import DatabaseSettings
from ocpp_core.db.group import Batch, GroupCommit, Parameters, Write
from ocpp_core.db.health import Health

T = TypeVar("T")
Item = TypeVar("Item")

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}

# A pooled connection idle for longer than this is pinged before it is used:
# what closes connections behind the pool's back (an idle timeout in a firewall
# or in PostgreSQL, a restart, an administrator) mostly catches idle ones.
# Pinging at every checkout (pool_pre_ping, three round trips on asyncpg) cost
# 5 % of the CPU of a MeterValues message and 14 % of their rate; a connection
# that died in the seconds since its last use fails its unit of work instead,
# which SQLAlchemy's disconnect detection turns into a fresh pool.
IDLE_BEFORE_PING = 5.0  # seconds
_RETURNED = "returned_at"  # key in a pooled connection's info: when it was last checked in


def async_url(url: str) -> URL:
    """Accept the plain URLs users know and pick the async driver for them."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    backend = parsed.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"unsupported database {backend!r}")
    return parsed.set(drivername=_ASYNC_DRIVERS[backend])


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (the API, the UI) run while the OCPP side writes; the busy
    # timeout makes a second writer wait instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_reset(
    dbapi_connection: Any, record: ConnectionPoolEntry, state: PoolResetState
) -> None:
    """Roll back a connection handed back to the pool in a transaction, and only such a one.

    SQLAlchemy's own reset rolls back every connection whose unit of work
    committed before it was handed back, with nothing left to roll back: on
    SQLite one more hand-off to aiosqlite's thread for every unit of work.
    SQLite itself says whether a transaction is open.
    """
    driver = record.driver_connection
    if state.asyncio_safe and driver is not None and driver.in_transaction:
        dbapi_connection.rollback()


def create_engine(url: str, limits: DatabaseSettings | None = None) -> AsyncEngine:
    """An engine for ``url``; without ``limits`` (migrations) statements may take any time."""
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        engine = create_async_engine(target, pool_reset_on_return=None)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine.pool, "reset", _sqlite_reset)
        return engine
    # Connections beyond pool_size are closed when handed back, so a pool smaller
    # than the usual concurrency reconnects (TLS negotiation included) all the time.
    # The pool hands out the connection returned last: the few a steady load needs stay
    # hot, with the statements they prepared (per connection, in asyncpg and in
    # db.prepared), instead of every pooled one taking turns and preparing each
    # statement again (a paid session on PostgreSQL: 14.6-15.6 -> 13.9-14.1 ms of CPU).
    # Those left idle are pinged before their next use (``Database._checked_out``).
    options: dict[str, Any] = {"pool_size": 20, "max_overflow": 10, "pool_use_lifo": True}
    if limits is not None:
        # Without these, a database cut off by the network holds every answer until
        # the operating system gives up on the connection (minutes); asyncpg's
        # command timeout also bounds the ping of an idle pooled connection.
        options["pool_timeout"] = limits.pool_timeout
        options["connect_args"] = {
            "timeout": limits.connect_timeout,
            "command_timeout": limits.command_timeout,
        }
    return create_async_engine(target, **options)


def _ping(dbapi_connection: Any) -> None:
    """One round trip; a connection that fails it is replaced by the pool.

    SQLAlchemy's own pre-ping takes three on asyncpg (BEGIN, a query, ROLLBACK).
    A query in the simple protocol runs in a transaction of its own, so it is as
    safe behind a pooler in transaction mode.
    """
    try:
        dbapi_connection.run_async(lambda connection: connection.execute(";"))
    except TimeoutError:
        raise  # a silent database: connecting again would only wait out another timeout
    except Exception as error:
        raise DisconnectionError(f"a pooled connection failed its ping: {error}") from error


class Database:
    """One engine per process and a factory for short units of work."""

    def __init__(
        self,
        url: str,
        *,
        one_at_a_time: bool = False,
        limits: DatabaseSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``one_at_a_time``: on SQLite, sessions of this object take turns.

        SQLite has one writer; a second one waits in SQLite's busy handler, which
        sleeps in steps of up to 100 ms. Under a charger fleet's load that sleeping,
        not the work, set the pace (190 MeterValues/s). Taking turns in an asyncio
        lock instead wakes the next session the moment the last one commits. Only
        for code that never opens a session inside another (the OCPP server does
        not; a nested one would wait for itself).

        Every unit of work goes through ``health`` (see :mod:`.health`): while
        the database can't be reached, it raises ``DatabaseUnavailable``.
        """
        self.url = url
        self.engine = create_engine(url, limits or DatabaseSettings())
        self._clock = clock
        self.health = Health(clock)
        if not self.is_sqlite:
            pool_events = self.engine.sync_engine
            event.listen(pool_events, "connect", self._answered)
            event.listen(pool_events, "checkin", self._returned)
            event.listen(pool_events, "checkout", self._checked_out)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._turns = asyncio.Lock() if one_at_a_time and self.is_sqlite else None
        self._group = GroupCommit(self.session)

    def _answered(self, *_: Any) -> None:
        # Once the database has answered, a long unit of work that probed it must
        # not keep every other one failing until it ends.
        self.health.answered()

    def _returned(self, dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        if dbapi_connection is not None:  # an invalidated one is connected afresh
            record.info[_RETURNED] = self._clock()

    def _checked_out(self, dbapi_connection: Any, record: ConnectionPoolEntry, _: Any) -> None:
        """Ping a connection that idled, or any while the database was last silent."""
        returned = record.info.get(_RETURNED)
        if returned is None:  # just connected
            return
        if self.health.silent or self._clock() - returned > IDLE_BEFORE_PING:
            _ping(dbapi_connection)
            self.health.answered()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session that commits when the block ends cleanly and rolls back otherwise."""
        if self._turns is None:
            async with self.health.attempt(), self._sessions() as session, session.begin():
                yield session
            return
        async with (
            self.health.attempt(),
            self._turns,
            self._sessions() as session,
            session.begin(),
        ):
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads alone: it never waits its turn (WAL readers don't block)."""
        async with self.health.attempt(), self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection of its own, for what must outlive a transaction (advisory locks)."""
        async with self.health.attempt(), self.engine.connect() as connection:
            yield connection

    async def group_commit(self, write: Write[T]) -> T:
        """Run ``write`` in a transaction shared with other callers' (see :mod:`.group`)."""
        self.health.refuse_while_probing()
        return await self._group.run(write)

    async def group_execute(self, statement: Executable, parameters: Parameters) -> None:
        """One statement in a shared transaction, run once for every caller's parameters."""
        self.health.refuse_while_probing()
        await self._group.execute(statement, parameters)

    async def group_batch(self, batch: Batch[Item, T], item: Item) -> T:
        """``item``'s share of one call of ``batch`` for every caller in a shared transaction."""
        self.health.refuse_while_probing()
        return await self._group.batch(batch, item)

    async def close(self) -> None:
        await self._group.close()
        await self.engine.dispose()
