"""Batched look-ups: the questions asked together answered by one query.

When a fleet reconnects (the server restarted, a network came back), thousands
of chargers ask to be admitted within seconds, each needing its row. One query
per charger made the look-up a fifth of the storm's cost; here the keys asked
for while a query runs wait for the next one and share it (``WHERE id IN``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MAX_KEYS = 500  # well inside every database's limit on bound parameters


class BatchedLookup(Generic[K, V]):
    def __init__(self, fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]]) -> None:
        self._fetch = fetch
        self._waiting: dict[K, list[asyncio.Future[V | None]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def get(self, key: K) -> V | None:
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._task is None:
            self._task = asyncio.create_task(self._answer(), name="batched-lookup")
        return await future

    async def _answer(self) -> None:
        try:
            while self._waiting:
                keys = list(self._waiting)[:_MAX_KEYS]
                asked = {key: self._waiting.pop(key) for key in keys}
                try:
                    found = await self._fetch(keys)
                except Exception as error:
                    for futures in asked.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(error)
                    continue
                for key, futures in asked.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(found.get(key))
        finally:
            self._task = None
