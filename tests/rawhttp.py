"""HTTP/1.1 spoken byte by byte over a real socket, as a slow or hostile client would.

httpx always finishes its request before it reads the answer; these helpers
send part of a request, or nothing, and watch what the server does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

# How long a test waits for the server before it decides the server is waiting too.
PATIENCE = 10.0


@dataclass
class RawConnection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self) -> tuple[int, bytes, bytes]:
        """The status, head and whole body of the next answer (its Content-Length)."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), PATIENCE)
        length = int(header(head, b"content-length") or b"0")
        body = await asyncio.wait_for(self.reader.readexactly(length), PATIENCE)
        return int(head.split(b" ", 2)[1]), head, body

    async def json_response(self) -> tuple[int, Any]:
        status, _, body = await self.response()
        return status, json.loads(body)

    async def closed_by_server(self) -> bool:
        """Whether the server ends the connection (sending whatever it still had) in time."""
        try:
            await asyncio.wait_for(self.reader.read(), PATIENCE)
        except ConnectionError:  # reset, or our last write found it closed
            return True
        except TimeoutError:
            return False
        return True


@asynccontextmanager
async def raw_connection(port: int) -> AsyncIterator[RawConnection]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield RawConnection(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):  # the server closed first, as tests want
            await writer.wait_closed()


def request_head(method: str, path: str, **headers: str) -> bytes:
    """A request head; header names are given with ``_`` for ``-`` (``Content_Length``)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunk(data: bytes) -> bytes:
    """One chunk of a ``Transfer-Encoding: chunked`` body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None
