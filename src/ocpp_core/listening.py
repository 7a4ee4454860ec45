"""Running uvicorn servers on sockets bound first, so a start-up problem is one clear line.

Every address is bound, and every certificate loaded, before any app starts: a
taken port or a certificate that does not load then stops the command with a
message naming what to change, instead of a traceback from a half-started process.

An app may be served by something else than a ``uvicorn.Server`` in this
process (``Listener.server``): ``serve`` runs the management app in a child
process (see ``ocpp_core.one_process``), on a socket bound here all the same.

SIGTERM first drains the servers that can (``Draining``, for the listener's
``drain_seconds``; see ``ocpp_core.server.node_server``), then stops them all;
Ctrl-C stops them at once, as does a second signal during the drain.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any, Protocol, TypeVar, runtime_checkable

import uvicorn

logger = logging.getLogger(__name__)

T = TypeVar("T")


class CannotServe(Exception):
    """An app can't start: its port is taken, its certificate doesn't load. Says what to do."""


class Server(Protocol):
    """What ``running`` drives: a ``uvicorn.Server``, or a stand-in serving in a child process."""

    config: uvicorn.Config
    started: bool
    should_exit: bool  # set by ``running`` to stop it gracefully

    async def serve(self, sockets: list[socket.socket] | None = None) -> None: ...


@runtime_checkable
class Draining(Protocol):
    """A server that can keep serving what it has while it refuses anything new."""

    def drain(self) -> None: ...


class UvicornServer(uvicorn.Server):
    """A uvicorn server whose Ctrl-C and SIGTERM are ``serve_all``'s, from before it starts.

    uvicorn's own handlers, in place while it serves, would make a SIGTERM that
    comes once it answers (a balancer's health check may have seen it up) but
    before ``serve_all`` took the signals over a plain stop instead of a drain.
    """

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True)
class Listener:
    config: uvicorn.Config
    option: str  # how the user picks another port, e.g. "--port or OCPP_CORE_PORT"
    server: Callable[[uvicorn.Config], Server] = UvicornServer
    # Several processes listen on the port, each on a socket of its own (``ocpp_core.workers``).
    reuse_port: bool = False
    drain_seconds: float = 0.0  # on SIGTERM, before it stops, if its server is ``Draining``


@dataclass(frozen=True)
class Running:
    server: Server
    stopped: asyncio.Future[None]  # done when the server has stopped


def bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening socket; OSError if the address is taken or not this machine's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, reuse_port=reuse_port)


def listen(listener: Listener) -> socket.socket:
    config = listener.config
    try:
        if not listener.reuse_port:
            return bind(config.host, config.port)
        # Bound plainly first, the port must be free of sockets with SO_REUSEPORT too:
        # another ``--workers`` command there would silently share it.
        with bind(config.host, config.port) as probe:
            port = probe.getsockname()[1]
        return bind(config.host, port, reuse_port=True)
    except OSError as error:
        raise CannotServe(
            f"can't listen on {config.host}:{config.port}: {reason(error)}; "
            f"choose another port with {listener.option}"
        ) from None


def reason(error: OSError) -> str:
    """ "Address already in use", without the address create_server adds to the message."""
    return os.strerror(error.errno) if error.errno else str(error)


def _announce(config: uvicorn.Config, sock: socket.socket) -> None:
    scheme = "https" if config.ssl_certfile else "http"
    host = f"[{config.host}]" if sock.family == socket.AF_INET6 else config.host
    name = getattr(config.app, "title", "app")
    logger.info("%s on %s://%s:%d", name, scheme, host, sock.getsockname()[1])


def load(config: uvicorn.Config) -> None:
    """Load the app and its TLS certificate now, as uvicorn would once serving."""
    try:
        config.load()
    except (ssl.SSLError, OSError) as error:
        if not config.ssl_certfile:
            raise
        why = reason(error) if not isinstance(error, ssl.SSLError) else str(error)
        raise CannotServe(
            f"can't load the TLS certificate {config.ssl_certfile} with key "
            f"{config.ssl_keyfile or '(in the certificate file)'}: {why}; check "
            "OCPP_CORE_TLS__CERTFILE (tls.certfile) and OCPP_CORE_TLS__KEYFILE (tls.keyfile)"
        ) from None


async def serve_all(*listeners: Listener) -> None:
    """Run several uvicorn servers; when one stops, stop them all.

    Once all have started, Ctrl-C or SIGTERM shuts them all down gracefully,
    together; a server that stops by itself (its loop failed, its lifespan
    ended) stops the others, and the command with a message naming the app.
    """
    for listener in listeners:
        load(listener.config)
    sockets: list[socket.socket] = []
    try:
        for listener in listeners:
            sockets.append(listen(listener))
        for listener, sock in zip(listeners, sockets, strict=True):
            _announce(listener.config, sock)
        bound = zip(listeners, sockets, strict=True)
        with _stop_signals() as signals:
            async with running(*bound, stop=signals.first) as serving:
                ends: list[asyncio.Future[Any]] = [each.stopped for each in serving]
                await asyncio.wait([*ends, signals.first], return_when=asyncio.FIRST_COMPLETED)
                if signals.first.done():
                    await _drain(listeners, serving, signals)
                signals.release()
            if not signals.first.done():
                ended = next(each for each in serving if each.stopped.done())
                name = _name(ended.server.config)
                raise CannotServe(f"{name} stopped; see the log above")
    finally:
        for sock in sockets:
            sock.close()


async def _drain(listeners: Sequence[Listener], serving: list[Running], signals: Signals) -> None:
    """After SIGTERM: drain the servers that can, until the time is up or a signal comes again."""
    seconds = max(listener.drain_seconds for listener in listeners)
    draining = [each.server for each in serving if isinstance(each.server, Draining)]
    started = all(each.server.started for each in serving)  # a signal may stop a start
    if signals.first.result() != signal.SIGTERM or seconds <= 0 or not draining or not started:
        return
    for server in draining:
        server.drain()
    logger.warning("stopping in %g s (SIGTERM or Ctrl-C again: at once)", seconds)
    await asyncio.wait(
        [signals.again, *(each.stopped for each in serving)],
        timeout=seconds,
        return_when=asyncio.FIRST_COMPLETED,
    )


def _name(config: uvicorn.Config) -> str:
    return str(getattr(config.app, "title", "an app"))


@dataclass(frozen=True)
class Signals:
    first: asyncio.Future[int]  # the first Ctrl-C or SIGTERM: which one
    again: asyncio.Future[None]  # a second one, during the drain
    release: Callable[[], None]  # hands the signals back, before the servers stop


@contextmanager
def _stop_signals() -> Iterator[Signals]:
    """Futures the first and second Ctrl-C or SIGTERM set: the servers are to stop.

    uvicorn's own handlers would stop the servers one after the other and then
    re-raise the signal, killing a server still shutting down (or leaving an
    app's child process behind). Taken before any server starts, one signal stops
    (or drains) every server together, whenever it comes. The second signal
    (which ends a drain) hands the signals back, and so do ``release`` and the end
    of the block: one more forces the way out of a shutdown stuck on a slow request.
    """
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}

    def restore() -> None:
        for sig, handler in previous.items():
            if signal.getsignal(sig) is stop:
                signal.signal(sig, handler)

    signals = Signals(loop.create_future(), loop.create_future(), restore)
    if threading.current_thread() is not threading.main_thread():
        yield signals  # no signals here: whoever runs this loop stops it
        return
    received: list[int] = []

    def stop(sig: int, frame: FrameType | None) -> None:
        received.append(sig)
        if len(received) == 1:
            loop.call_soon_threadsafe(_settle, signals.first, sig)
            return
        restore()
        loop.call_soon_threadsafe(_settle, signals.again, None)

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, stop)
    try:
        yield signals
    finally:
        restore()


def _settle(future: asyncio.Future[T], value: T) -> None:
    if not future.done():
        future.set_result(value)


@asynccontextmanager
async def running(
    *bound: tuple[Listener, socket.socket], stop: asyncio.Future[Any] | None = None
) -> AsyncIterator[list[Running]]:
    """Start each listener on its bound socket; inside, all have started (or ``stop`` came
    first); at the end all stop."""
    servers = [listener.server(listener.config) for listener, _ in bound]
    serving = [
        Running(server, asyncio.ensure_future(server.serve(sockets=[sock])))
        for server, (_, sock) in zip(servers, bound, strict=True)
    ]
    try:
        while not (stop and stop.done()) and not all(server.started for server in servers):
            for each in serving:
                if each.stopped.done():
                    if isinstance(refused := each.stopped.exception(), CannotServe):
                        raise refused
                    raise CannotServe("an app could not start; see the log above")
            await asyncio.sleep(0.05)
        yield serving
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*(each.stopped for each in serving))
