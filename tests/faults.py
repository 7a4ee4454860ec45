"""A TCP relay between a server under test and PostgreSQL, which a test can break and mend.

The shared PostgreSQL server is never stopped (other tests use it); the code
under test reaches it through this relay instead, and the test cuts the relay
in one of the two ways a database goes away:

- ``refuse``: every relayed connection is reset and new ones are refused, as
  when PostgreSQL is down or restarting;
- ``blackhole``: every relayed connection stops carrying data in both
  directions and new ones are accepted but never answered, as in a network
  partition. Nothing fails; everything waits.

``restore`` mends it: the connections the outage held are reset (both ends gave
up on them long ago, as after a real partition heals) and new ones are relayed
again, on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url

_CHUNK = 65_536


class Fault(enum.Enum):
    REFUSE = "refuse"
    BLACKHOLE = "blackhole"


@dataclass(eq=False)
class _Pair:
    """One client connection and, unless blackholed from the start, its upstream."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    pumps: list[asyncio.Task[None]] = field(default_factory=list)

    def reset(self) -> None:
        for pump in self.pumps:
            pump.cancel()
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()  # an RST, not a polite FIN


class DatabaseProxy:
    """Relays ``127.0.0.1:port`` to the database server of ``database_url``."""

    def __init__(self, database_url: str) -> None:
        self._target = make_url(database_url)
        self._pairs: set[_Pair] = set()
        self._listener: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.port = 0
        self.fault: Fault | None = None

    def url(self, database_url: str) -> str:
        """``database_url`` (any database on the same server), reached through this relay."""
        relayed = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return relayed.render_as_string(hide_password=False)

    async def start(self) -> None:
        self._listener = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._listener.sockets[0].getsockname()[1]

    async def close(self) -> None:
        await self._stop_listening()
        self._reset_all()

    async def cut(self, fault: Fault) -> None:
        self.fault = fault
        if fault is Fault.REFUSE:
            await self._stop_listening()
            self._reset_all()
        else:
            self._flowing.clear()

    async def restore(self) -> None:
        self._reset_all()
        self.fault = None
        self._flowing.set()
        if self._listener is None:
            await self.start()

    @asynccontextmanager
    async def outage(self, fault: Fault) -> AsyncIterator[None]:
        await self.cut(fault)
        try:
            yield
        finally:
            await self.restore()

    async def _stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _reset_all(self) -> None:
        pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            pair.reset()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pair = _Pair(writer)
        self._pairs.add(pair)
        if self.fault is Fault.BLACKHOLE:
            return  # held open, never answered, until ``restore`` resets it
        try:
            upstream_reader, pair.upstream = await asyncio.open_connection(
                self._target.host, self._target.port or 5432
            )
        except OSError:
            pair.reset()
            self._pairs.discard(pair)
            return
        pair.pumps = [
            asyncio.create_task(self._pump(reader, pair.upstream, pair)),
            asyncio.create_task(self._pump(upstream_reader, writer, pair)),
        ]

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, pair: _Pair
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(_CHUNK):
                await self._flowing.wait()  # a blackhole holds the data, in both directions
                sink.write(data)
                await sink.drain()
        # One side closed: close the other, as the real connection would.
        if pair in self._pairs:
            self._pairs.discard(pair)
            for writer in (pair.client, pair.upstream):
                if writer is not None:
                    writer.close()


@asynccontextmanager
async def database_proxy(database_url: str) -> AsyncIterator[DatabaseProxy]:
    proxy = DatabaseProxy(database_url)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
