"""Group commit: the short writes of many chargers in one transaction.

A charger's message is answered only once what it says is committed, so every
MeterValues, StatusNotification or boot used to pay for a transaction of its
own: a connection from the pool, BEGIN, its statements, COMMIT, and on SQLite a
turn at the single writer's lock. Under a fleet's load those fixed costs, not
the statements, set the pace. Here the writes that arrive while one transaction
runs wait for the next one and share it; each caller still gets its own result
(or exception) only after the commit, so an answer never claims more than the
database holds.

A write that is one statement with its own parameters (a boot's UPDATE) can be
given as such; the group then runs each such statement once, for all its
parameter sets (executemany), instead of once per charger. A write that needs
more than one statement but reads and writes the same way for every charger
(a MeterValues) can be given as a batch function and its caller's item: the
group calls the function once with the items of all its callers, so it can
read and write them with a few statements instead of a few per charger.

A failing write must not take its neighbours down with it: when a shared
transaction fails, each of its writes is retried in a transaction of its own.
A write may therefore run twice and must keep its effects to the session.
Not so when the database can't be reached: each write alone would only wait
out the same timeout, so the group fails at once, and with it every write
queued behind it. That also bounds the queue while the database is away: it
holds what arrives during one attempt, never a whole outage's worth.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from ocpp_core.db.health import DatabaseUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")
Item = TypeVar("Item")
Write = Callable[[AsyncSession], Awaitable[T]]
# Takes every caller's item and gives each its result, in the same order.
Batch = Callable[[AsyncSession, list[Item]], Awaitable[list[T]]]
Opener = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Parameters = dict[str, Any]

# Long enough to amortise a commit, short enough that one slow write delays few others.
_MAX_GROUP = 200


@dataclass(frozen=True, slots=True)
class _Batched:
    batch: Batch[Any, Any]
    item: Any


@dataclass(frozen=True, slots=True)
class _Queued:
    write: Write[Any] | tuple[Executable, Parameters] | _Batched
    future: asyncio.Future[Any]


class GroupCommit:
    def __init__(self, open_session: Opener) -> None:
        self._open = open_session
        self._queue: list[_Queued] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run(self, write: Write[T]) -> T:
        """``write``'s result once the transaction it ran in has committed."""
        result: T = await self._enqueue(write)
        return result

    async def execute(self, statement: Executable, parameters: Parameters) -> None:
        """Run ``statement`` with ``parameters``; the group runs it once for all its callers."""
        await self._enqueue((statement, parameters))

    async def batch(self, batch: Batch[Item, T], item: Item) -> T:
        """``item``'s result of ``batch``, which the group calls once for all its callers' items."""
        result: T = await self._enqueue(_Batched(batch, item))
        return result

    def _enqueue(
        self, write: Write[Any] | tuple[Executable, Parameters] | _Batched
    ) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(write, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._writer(), name="group-commit")
        self._wake.set()
        return future

    async def close(self) -> None:
        """Stop the writer; writes still queued fail rather than wait forever."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        queued, self._queue = self._queue, []
        for item in queued:
            if not item.future.done():
                item.future.set_exception(RuntimeError("the database was closed"))

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                group, self._queue = self._queue[:_MAX_GROUP], self._queue[_MAX_GROUP:]
                try:
                    await self._commit(group)
                except BaseException:
                    for item in group:
                        if not item.future.done():
                            item.future.cancel()
                    raise

    async def _commit(self, group: list[_Queued]) -> None:
        results: list[Any] = []
        statements: dict[Executable, list[Parameters]] = {}
        batches: dict[Batch[Any, Any], list[tuple[int, Any]]] = {}
        try:
            async with self._open() as session:
                for position, item in enumerate(group):
                    if isinstance(item.write, tuple):
                        statement, parameters = item.write
                        statements.setdefault(statement, []).append(parameters)
                        results.append(None)
                    elif isinstance(item.write, _Batched):
                        batches.setdefault(item.write.batch, []).append((position, item.write.item))
                        results.append(None)
                    else:
                        results.append(await item.write(session))
                for batch, items in batches.items():
                    outcomes = await batch(session, [item for _, item in items])
                    for (position, _), outcome in zip(items, outcomes, strict=True):
                        results[position] = outcome
                for statement, rows in statements.items():
                    await session.execute(statement, rows)
        except DatabaseUnavailable as error:
            queued, self._queue = self._queue, []
            for item in [*group, *queued]:
                _settle(item.future, error=error)
            return
        except Exception as error:
            if len(group) == 1:
                _settle(group[0].future, error=error)
                return
            logger.debug("a group of %d writes failed; each retried alone", len(group))
            for item in group:
                await self._commit([item])
            return
        for item, result in zip(group, results, strict=True):
            _settle(item.future, result=result)


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None
) -> None:
    if future.done():  # its caller went away (the charger disconnected)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
