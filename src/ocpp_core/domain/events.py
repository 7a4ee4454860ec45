"""What happened at a charger, in version-independent terms, for whoever follows it.

The protocol adapters publish after their database work is committed; the
payments subscribe. Subscribers run in order, in the charger's message loop,
so they see one charger's events in the order the charger sent them; they
must not wait for the charger themselves (a command's answer arrives through
that same loop), so anything that sends a command starts a task instead.

A subscriber that could not reach the database fails the charger's message
(after the other subscribers had their turn): the charger gets an error and
sends it again, and the handler publishes the replay's events anew, so a
payment never misses the start of its transaction for an outage.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from ocpp_core.db.health import DatabaseUnavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectorStatusChanged:
    charge_point_id: str
    connector_id: int
    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class TransactionStarted:
    charge_point_id: str
    connector_id: int
    transaction_id: int
    tag: str
    at: datetime
    accepted: bool
    remote_start_id: int | None = None  # echoed by chargers that number remote starts


@dataclass(frozen=True, slots=True)
class TransactionStopped:
    charge_point_id: str
    connector_id: int
    transaction_id: int
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class EnergyLimitReached:
    """A plausible reading took an open transaction to its energy limit (sent on each one after)."""

    charge_point_id: str
    connector_id: int
    transaction_id: int
    energy_wh: int


Event = ConnectorStatusChanged | TransactionStarted | TransactionStopped | EnergyLimitReached
Subscriber = Callable[[Event], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    async def publish(self, event: Event) -> None:
        """Deliver to every subscriber; only an unreachable database fails the message."""
        unavailable: DatabaseUnavailable | None = None
        for subscriber in self._subscribers:
            try:
                await subscriber(event)
            except DatabaseUnavailable as error:
                unavailable = error
            except Exception:
                logger.exception("handling %r failed", event)
        if unavailable is not None:
            raise unavailable
