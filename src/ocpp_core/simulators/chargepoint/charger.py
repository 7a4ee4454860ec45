"""A virtual charger's connection lifecycle: connect, boot, heartbeat, reconnect."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import WebSocketException

from .behaviour import LOGGER, ChargerBehaviour
from .connection import backoff_delay, open_connection
from .link import ChargerLink, LinkError
from .model import Registration, StopReason
from .ocpp16 import V16Link
from .ocpp201 import V201Link
from .settings import ChargerSettings

BOOT_RETRY_S = 10.0
STOP_GRACE_S = 5.0


def create_link(charger: ChargerBehaviour, connection: ClientConnection) -> ChargerLink:
    """The one place that knows which protocol module serves which version."""
    if charger.settings.protocol == "ocpp1.6":
        return V16Link(charger, connection, charger.settings.response_timeout)
    if charger.settings.protocol == "ocpp2.0.1":
        return V201Link(charger, connection, charger.settings.response_timeout)
    raise ValueError(f"unsupported protocol {charger.settings.protocol!r}")


class VirtualCharger(ChargerBehaviour):
    """One simulated charger that keeps itself connected until ``stop()``.

    ``connected`` is set while a socket is open; ``booted`` once the server
    accepted the boot and every connector status has been reported. Both are
    cleared when the connection drops.
    """

    def __init__(self, settings: ChargerSettings) -> None:
        super().__init__(settings)
        self.connected = asyncio.Event()
        self.booted = asyncio.Event()
        self.boot_count = 0
        self._run_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._auto_started = False

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def start(self, delay: float = 0.0) -> None:
        """Begin connecting after ``delay`` seconds (fleets stagger their dials)."""
        if self._run_task is not None:
            raise RuntimeError(f"{self.id} already started")
        self._run_task = asyncio.create_task(self._run(delay), name=f"charger-{self.id}")

    async def stop(self) -> None:
        """End sessions and close the socket cleanly if possible, then cancel the rest."""
        if self._stopping:
            return
        self._stopping = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_GRACE_S):
                await self.end_all_sessions(StopReason.LOCAL)
                if self._link is not None:
                    await self._link.close()
        tasks = [*self._tasks, *([self._run_task] if self._run_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        LOGGER.info("%s: stopped", self.id)

    async def _run(self, delay: float) -> None:
        await asyncio.sleep(delay)
        attempt = 0
        while not self._stopping:
            boots_before = self.boot_count
            await self._connect_once()
            if self._stopping:
                return
            if self.boot_count > boots_before:
                attempt = 0
            if self._reconnect_now:
                self._reconnect_now, pause = False, 0.0
            else:
                pause, attempt = self._backoff(attempt), attempt + 1
            LOGGER.info("%s: reconnecting in %.1fs", self.id, pause)
            await asyncio.sleep(pause)

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, self.settings.backoff_initial, self.settings.backoff_max)

    async def _connect_once(self) -> None:
        try:
            async with open_connection(self.settings) as connection:
                if connection.subprotocol != self.settings.protocol:
                    LOGGER.warning("%s: server did not confirm %s", self.id, self.settings.protocol)
                await self._serve(connection)
        except (OSError, TimeoutError, WebSocketException) as exc:
            LOGGER.warning("%s: connection failed: %s", self.id, exc)

    async def _serve(self, connection: ClientConnection) -> None:
        link = create_link(self, connection)
        self._link = link
        self.connected.set()
        LOGGER.info("%s: connected", self.id)
        serving = asyncio.create_task(link.serve())
        online = asyncio.create_task(self._online(link))
        try:
            await asyncio.wait((serving, online), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._link = self._ready = None
            self.connected.clear()
            self.booted.clear()
            self._notify()
            for task in (serving, online):
                task.cancel()
            await asyncio.gather(serving, online, return_exceptions=True)
        self._log_outcome(online)

    def _log_outcome(self, online: asyncio.Task[None]) -> None:
        if online.cancelled() or (exc := online.exception()) is None:
            LOGGER.info("%s: disconnected", self.id)
        elif isinstance(exc, LinkError):
            LOGGER.warning("%s: session with the server failed: %s", self.id, exc)
        else:
            LOGGER.error("%s: unexpected failure while online", self.id, exc_info=exc)

    async def _online(self, link: ChargerLink) -> None:
        await self._boot(link)
        self._ready = link
        await self.report_all()
        await self.send_unsent_stops()
        self.boot_count += 1
        self.booted.set()
        self._notify()
        LOGGER.info("%s: booted", self.id)
        self._maybe_auto_start()
        await self._heartbeats(link)

    async def _boot(self, link: ChargerLink) -> None:
        while True:
            result = await self.send_boot(link)
            if result.status is Registration.ACCEPTED:
                return
            pause = result.interval or BOOT_RETRY_S
            LOGGER.info("%s: boot %s, retrying in %ss", self.id, result.status, pause)
            await asyncio.sleep(pause)

    async def _heartbeats(self, link: ChargerLink) -> None:
        while True:
            await asyncio.sleep(self.config.number("HeartbeatInterval"))
            try:
                await link.heartbeat()
            except LinkError as exc:
                LOGGER.warning("%s: Heartbeat failed: %s", self.id, exc)

    def _maybe_auto_start(self) -> None:
        """Only after the first boot: a reconnect must not start a second session."""
        tag = self.settings.auto_start
        if tag is None or self._auto_started:
            return
        self._auto_started = True
        self.spawn(self._auto_start(tag))

    async def _auto_start(self, tag: str) -> None:
        if await self.start_local(1, tag) is None:
            LOGGER.warning("%s: auto-start with the configured tag failed", self.id)
