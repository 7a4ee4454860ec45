"""uvicorn's HTTP protocol with deadlines on what a client owes the server.

uvicorn closes an idle connection only after a response (``timeout_keep_alive``),
and that timer stops at the first byte of the next request. A connection that
sends nothing, half a request head or half a body is otherwise kept for ever,
and a head is buffered however long it grows. Here each connection owes, in turn:

- a complete request head within ``http.header_timeout`` of connecting, or of
  the first byte after a response (until then the keep-alive timeout applies),
  and at most ``http.max_header_size`` bytes of it (else 431 and closed);
- the request's body within ``http.body_timeout`` of its head (longer for the paths a
  listener names, such as chargers' log uploads);
- nothing while the app works on the request.

A websocket upgrade hands the connection to the websocket protocol, whose
keep-alive pings decide from then on; the deadlines end there.

It extends httptools' protocol, the one uvicorn's "auto" always picks here:
``uvicorn[standard]`` installs httptools on every platform, so h11 is never used.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ocpp_core.config import HttpSettings


class Phase(enum.Enum):
    HEAD = "head"  # a request head is due
    IDLE = "idle"  # after a response, before a byte of the next request: keep-alive applies
    BODY = "body"
    APP = "app"
    UPGRADED = "upgraded"


_HEADER_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 26\r\nconnection: close\r\n\r\n"
    b"Request header too large.\n"
)


class DeadlineProtocol(HttpToolsProtocol):
    """Closes a connection that keeps the server waiting for a request."""

    limits: ClassVar[HttpSettings] = HttpSettings()
    # Bodies allowed longer than ``limits.body_timeout``, by path prefix: (prefix, seconds).
    slow_bodies: ClassVar[tuple[tuple[str, float], ...]] = ()
    _deadline: asyncio.TimerHandle | None = None
    _following: tuple[Phase, object] | None = None
    _head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._follow(Phase.HEAD)

    def data_received(self, data: bytes) -> None:
        if self._request_phase() is None:  # between requests: this is part of a head
            self._head_bytes += len(data)
            self._follow(Phase.HEAD)
        super().data_received(data)
        phase = self._request_phase()
        if phase is None and self._head_bytes > self.limits.max_header_size:
            self._refuse_head()
        elif phase is not None:
            self._head_bytes = 0
            self._follow(phase)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow(self._request_phase() or Phase.IDLE)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _request_phase(self) -> Phase | None:
        """Where the current request stands; None between requests."""
        if self.transport.get_protocol() is not self:
            return Phase.UPGRADED
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return None
        return Phase.BODY if cycle.more_body else Phase.APP

    def _follow(self, phase: Phase) -> None:
        """Start a phase's deadline when the phase begins; staying in it changes nothing."""
        following = (phase, self.cycle)
        if following == self._following:
            return
        self._following = following
        self._cancel()
        timeout = {Phase.HEAD: self.limits.header_timeout, Phase.BODY: self._body_timeout()}
        if phase in timeout:
            self._deadline = self.loop.call_later(timeout[phase], self._expire)

    def _body_timeout(self) -> float:
        path = "" if self.cycle is None else str(self.cycle.scope["path"])
        slow = (seconds for prefix, seconds in self.slow_bodies if path.startswith(prefix))
        return next(slow, self.limits.body_timeout)

    def _expire(self) -> None:
        self._deadline = None
        if self.transport.get_protocol() is self:
            self.transport.close()

    def _refuse_head(self) -> None:
        self._cancel()
        self.transport.write(_HEADER_TOO_LARGE)
        self.transport.close()

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


def uvicorn_options(
    http: HttpSettings, slow_bodies: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """The HTTP options of every listener: this protocol with ``http``'s limits, the keep-alive.

    ``slow_bodies``: path prefixes whose bodies may take longer (e.g. a charger's log upload).
    """
    slow = tuple((slow_bodies or {}).items())
    protocol = type(
        DeadlineProtocol.__name__, (DeadlineProtocol,), {"limits": http, "slow_bodies": slow}
    )
    return {"http": protocol, "timeout_keep_alive": http.keepalive_timeout}
