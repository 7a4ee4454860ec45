"""What the payment flows share: the server runtime, the gateway, per-reservation locks."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ocpp_core.config import PaymentSettings
from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.payments.gateway import StripeGateway
from ocpp_core.runtime import Runtime

logger = logging.getLogger("ocpp_core.payments")

# A claim outlives the charger's answer by this much (see PaymentContext.claim_lease).
_CLAIM_MARGIN = timedelta(seconds=10)


@dataclass
class PaymentContext:
    runtime: Runtime
    gateway: StripeGateway | None
    _locks: weakref.WeakValueDictionary[str, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def settings(self) -> PaymentSettings:
        return self.runtime.settings.payments

    def now(self) -> datetime:
        return self.runtime.clock()

    def claim_lease(self) -> timedelta:
        """How long a node's claim to send a command to a charger holds: the router waits
        for the answer at most the command timeout; past that, the node that claimed it
        died before recording one, and another may send it."""
        return timedelta(seconds=self.runtime.settings.ocpp.command_timeout) + _CLAIM_MARGIN

    def lock(self, reservation_id: str) -> asyncio.Lock:
        """Serialises the flows of one reservation in this process (confirm vs webhook).

        Only an optimisation: what must happen once cluster-wide is claimed in the
        database under the row's lock (a start, see :mod:`.starting`; a capture or
        release, see :mod:`.money`), which this lock does not replace.
        """
        lock = self._locks.get(reservation_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[reservation_id] = lock
        return lock

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run work that talks to a charger outside the charger's own message loop."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        if isinstance(task.exception(), DatabaseUnavailable):
            # The database's health logged the outage; the sweeps take this up again.
            logger.warning("%s: the database is unreachable; the sweep retries", task.get_name())
        else:
            logger.error("%s failed", task.get_name(), exc_info=task.exception())

    async def drain(self) -> None:
        """Let spawned work finish (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
