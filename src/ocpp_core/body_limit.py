"""Request bodies bounded while they stream in, before any app code reads them.

A declared ``Content-Length`` over the limit is refused at once; a chunked body
(or one that keeps coming) is counted as it arrives and refused the moment it
passes the limit, so the server never holds more than the limit plus one chunk.
The refusal closes the connection: nothing more of that body is read.

FastAPI's own ``max_body_size`` counts the same way, but keeps the connection
open (reading and dropping whatever the client still sends) and answers in its
own shape; this answers as each app answers its other errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LimitFor = Callable[[Scope], int]
TooLarge = Callable[[Request, int], Awaitable[Response]]  # the request, the limit


class BodyLimit:
    """Answers 413 to a request body over ``limit_for(scope)`` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, *, limit_for: LimitFor, too_large: TooLarge) -> None:
        self.app = app
        self.limit_for = limit_for
        self.too_large = too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        if _declared_length(scope) > limit:
            await self._refuse(scope, send, limit)
            return
        body = _CountedBody(limit, receive, send, lambda: self._refuse(scope, send, limit))
        try:
            await self.app(scope, body.receive, body.send)
        except ClientDisconnect:
            # The app was told the client left (or that we refused it): nobody to answer.
            if not body.ended:
                raise

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        response = await self.too_large(Request(scope), limit)
        response.headers["connection"] = "close"  # the rest of the body is never read
        await response(scope, _nothing_more, send)


def _declared_length(scope: Scope) -> int:
    value = Headers(scope=scope).get("content-length", "")
    return int(value) if value.isdigit() else 0


class _CountedBody:
    """The app's view of the body: cut off, with a 413, once it passes the limit."""

    def __init__(
        self, limit: int, receive: Receive, send: Send, refuse: Callable[[], Awaitable[None]]
    ) -> None:
        self.limit = limit
        self.received = 0
        self.ended = False  # the app was handed a disconnect
        self.refused = False
        self.started = False
        self._receive = receive
        self._send = send
        self._refuse = refuse

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                await self._cut_off()
                message = {"type": "http.disconnect"}
        self.ended = self.ended or message["type"] == "http.disconnect"
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return  # the app's answer to the cut-off body; the 413 went instead
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)

    async def _cut_off(self) -> None:
        if not self.started:  # else the app answered before reading it all: let that stand
            await self._refuse()
            self.refused = True


async def _nothing_more() -> Message:
    return {"type": "http.disconnect"}
