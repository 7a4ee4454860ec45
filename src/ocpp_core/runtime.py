"""What the server's parts share while it runs, built once by the app factory."""

from __future__ import annotations

from dataclasses import dataclass, field

from ocpp_core.clock import Clock, utc_now
from ocpp_core.config import Settings
from ocpp_core.db.lookup import BatchedLookup
from ocpp_core.db.models import ChargePoint
from ocpp_core.db.session import Database
from ocpp_core.domain.events import EventBus
from ocpp_core.domain.messagelog import MessageLog
from ocpp_core.domain.presence import Presence
from ocpp_core.metrics import Metrics
from ocpp_core.ocpp.registry import ConnectionRegistry
from ocpp_core.ocpp.router import CommandRouter


@dataclass
class Runtime:
    settings: Settings
    db: Database
    registry: ConnectionRegistry
    router: CommandRouter
    message_log: MessageLog
    presence: Presence
    # Chargers asking to connect, looked up together (see db.lookup).
    charge_points: BatchedLookup[str, ChargePoint]
    metrics: Metrics = field(default_factory=Metrics)
    clock: Clock = utc_now
    events: EventBus = field(default_factory=EventBus)
