"""Many virtual chargers on one event loop, for demos, tests and load."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Self

from .charger import VirtualCharger
from .settings import FleetSettings

LOGGER = logging.getLogger("ocpp_core.simulator")


class Fleet:
    """``count`` chargers that start together and stop together.

    Dials are staggered by ``settings.stagger`` so hundreds of chargers do not
    hit the server's accept queue in the same millisecond.
    """

    def __init__(self, settings: FleetSettings) -> None:
        self.settings = settings
        self.chargers = [
            VirtualCharger(settings.charger_settings(index))
            for index in range(1, settings.count + 1)
        ]
        self._stopped = asyncio.Event()

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

    def start(self) -> None:
        for position, charger in enumerate(self.chargers):
            charger.start(delay=position * self.settings.stagger)
        LOGGER.info("fleet of %d charger(s) started", len(self.chargers))

    async def stop(self) -> None:
        await asyncio.gather(*(charger.stop() for charger in self.chargers))
        self._stopped.set()
        LOGGER.info("fleet stopped")

    async def wait_booted(self) -> None:
        """Every charger has booted; bound it with ``asyncio.timeout``."""
        await asyncio.gather(*(charger.booted.wait() for charger in self.chargers))

    async def wait(self) -> None:
        """Until ``duration`` has passed (if set) or the fleet was stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), self.settings.duration)


async def run_fleet(settings: FleetSettings) -> None:
    """Run a fleet until ``settings.duration`` elapses or the task is cancelled."""
    async with Fleet(settings) as fleet:
        await fleet.wait()
