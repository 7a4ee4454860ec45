"""Prometheus metrics, one registry per app so parallel apps (tests) don't collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connected = Gauge(
            "ocpp_connected_chargers", "Chargers with an open websocket", registry=self.registry
        )
        self.messages = Counter(
            "ocpp_messages",
            "OCPP messages by action and direction",
            ["action", "direction"],
            registry=self.registry,
        )
        self.errors = Counter(
            "ocpp_errors", "CALLERRORs sent to chargers, by code", ["code"], registry=self.registry
        )
        self.rejected_connections = Counter(
            "ocpp_rejected_connections",
            "Websocket upgrades refused, by HTTP status",
            ["status"],
            registry=self.registry,
        )
