"""What the server's parts share while it runs, built once by the app factory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # Redis's client is loaded only in cluster mode
    from ocpp_core.cluster.node import ClusterNode


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
    # This process as a node of a cluster (cluster.redis_url set), else None.
    cluster: ClusterNode | None = None
    # Stopping after a drain (``server.node_server``): /health 503, new chargers refused.
    draining: bool = False
