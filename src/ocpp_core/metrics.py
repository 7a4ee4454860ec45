"""Prometheus metrics, one registry per app so parallel apps (tests) don't collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._received: dict[str, Counter] = {}
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

    def received(self, action: str) -> None:
        """Count an incoming message; the labelled counter is looked up once per action.

        Callers pass only actions of the protocol: a charger's made-up names must
        not each become a time series.
        """
        counter = self._received.get(action)
        if counter is None:
            counter = self._received[action] = self.messages.labels(action, "in")
        counter.inc()
