"""The Stripe SDK's HTTP transport: one h11 exchange on a kept-alive asyncio connection.

The SDK takes any ``HTTPClient`` and does the rest itself (auth, encoding,
idempotency keys, the errors of Stripe's answers). Through its httpx client,
about three quarters of its ~1 ms a request went to httpx's layers (the
client, httpcore's pool, anyio); a paid session makes two. Here a request is
written and its answer read by h11 on a connection of a small pool, TLS
verified against the SDK's own CA bundle. As with httpx, anything that keeps
the answer from arriving (refused, reset, a broken answer, the timeout, which
here bounds the whole request) is the SDK's ``APIConnectionError``, which
the gateway reports as transient. A kept-alive connection the server closes
just as it is reused (an idle timeout ending, Stripe's or a proxy's) is a
request that got no byte of an answer: it is sent once more on a new
connection, which is safe because each of our POSTs carries its idempotency
key. Behind an HTTP proxy (``HTTPS_PROXY`` and the like) the SDK's httpx
client is used, as it honours them.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Awaitable, Mapping
from typing import Any, NoReturn
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import h11
import stripe

_IDLE_PER_ORIGIN = 8  # connections kept open for the next requests
_READ = 64 * 1024
_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


def http_client(api_base: str, timeout: float) -> stripe.HTTPClient:
    """The transport for ``api_base``: this module's, or httpx's behind a proxy."""
    parts = urlsplit(api_base)
    if parts.scheme in getproxies() and not proxy_bypass(parts.hostname or ""):
        return stripe.HTTPXClient(timeout=timeout)
    return StreamsClient(timeout)


@functools.cache
def _stripe_trust() -> ssl.SSLContext:
    """The SDK's CA bundle, loaded once per process (about 30 ms of CPU), not per app."""
    return ssl.create_default_context(cafile=stripe.ca_bundle_path)


class StreamsClient(stripe.HTTPClient):
    name = "asyncio-h11"

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout
        self._tls = _stripe_trust()
        self._idle: dict[Origin, list[_Connection]] = {}

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._request(method, url, headers, post_data)
        except (OSError, TimeoutError, h11.ProtocolError) as error:
            self._handle_request_error(error)

    def _handle_request_error(self, error: Exception) -> NoReturn:
        # Worded as the SDK's own clients word it; the cause stays attached.
        kind = type(error).__name__
        message = f"Unexpected error communicating with Stripe. (Network error: a {kind})"
        raise stripe.APIConnectionError(message, should_retry=True) from error  # type: ignore[no-untyped-call]  # untyped in the SDK

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: Any
    ) -> tuple[bytes, int, Mapping[str, str]]:
        parts = urlsplit(url)
        origin = (parts.scheme, parts.hostname or "", parts.port or _PORTS[parts.scheme])
        content = body.encode() if isinstance(body, str) else (body or b"")
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        head = [("Host", parts.netloc), *headers.items()]
        if content or method.upper() not in ("GET", "HEAD", "DELETE"):
            head.append(("Content-Length", str(len(content))))
        request = h11.Request(method=method.upper(), target=target, headers=head)
        reused = self._take(origin)
        if reused is not None:
            try:
                return await self._exchange(origin, reused, request, content)
            except (OSError, h11.ProtocolError):
                if reused.answered:
                    raise
                # Closed by the server as it idled, after _take looked: sent once more
                # on a new connection, under the same idempotency key.
        return await self._exchange(origin, await self._open(origin), request, content)

    async def _exchange(
        self, origin: Origin, connection: _Connection, request: h11.Request, content: bytes
    ) -> tuple[bytes, int, Mapping[str, str]]:
        try:
            status, answer, data = await connection.exchange(request, content)
        except BaseException:
            connection.close()
            raise
        self._keep(origin, connection)
        return data, status, answer

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin, [])
        while idle:
            connection = idle.pop()
            if connection.reusable():
                return connection
            connection.close()  # Stripe closed it while it idled
        return None

    async def _open(self, origin: Origin) -> _Connection:
        scheme, host, port = origin
        tls = self._tls if scheme == "https" else None
        reader, writer = await asyncio.open_connection(host, port, ssl=tls)
        return _Connection(reader, writer)

    def _keep(self, origin: Origin, connection: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if connection.reusable() and len(idle) < _IDLE_PER_ORIGIN:
            idle.append(connection)
        else:
            connection.close()

    def sleep_async(self, secs: float) -> Awaitable[None]:
        return asyncio.sleep(secs)

    async def close_async(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._h11 = h11.Connection(h11.CLIENT)
        self.answered = False  # a byte of the answer to the last request came

    def reusable(self) -> bool:
        return (
            self._h11.our_state is h11.IDLE
            and not self._writer.is_closing()
            and not self._reader.at_eof()
        )

    async def exchange(self, request: h11.Request, content: bytes) -> tuple[int, _Headers, bytes]:
        self.answered = False
        data = self._h11.send(request) or b""
        if content:
            data += self._h11.send(h11.Data(data=content)) or b""
        self._writer.write(data + (self._h11.send(h11.EndOfMessage()) or b""))
        await self._writer.drain()
        status, headers, body = 0, _Headers(), bytearray()
        while True:
            event = self._h11.next_event()
            if event is h11.NEED_DATA:
                received = await self._reader.read(_READ)
                self.answered = self.answered or bool(received)
                self._h11.receive_data(received)
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = _Headers((name.decode(), value.decode()) for name, value in event.headers)
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            # An informational answer (1xx) is passed over. A close before the answer
            # ended is h11's RemoteProtocolError.
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()  # kept alive for the next request
        return status, headers, bytes(body)

    def close(self) -> None:
        self._writer.close()


class _Headers(dict[str, str]):
    """An answer's headers, looked up whatever their case, as the SDK does."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__((name.lower(), value) for name, value in items)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)
