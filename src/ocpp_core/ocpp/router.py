"""The only way anything sends a command to a charger.

Callers name a charger and a version-neutral command; the router finds where
its socket lives and lets that connection's protocol adapter spell the CALL.
This implementation knows the sockets of this process; a clustered router
implements the same :class:`CommandRouter` over a broker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ocpp_core.domain.commands import Command
from ocpp_core.ocpp.errors import ChargerOffline
from ocpp_core.ocpp.registry import ConnectionRegistry

Encoder = Callable[[Command], tuple[str, dict[str, Any]]]
Observer = Callable[[str, str, dict[str, Any]], None]


class CommandRouter(Protocol):
    async def is_online(self, charge_point_id: str) -> bool: ...

    async def online(self) -> list[tuple[str, str]]:
        """(charger id, protocol) of every connected charger."""
        ...

    async def send(self, charge_point_id: str, command: Command) -> dict[str, Any]:
        """The charger's answer payload; raises a :class:`CommandError`."""
        ...


class LocalCommandRouter:
    def __init__(
        self,
        registry: ConnectionRegistry,
        encoders: Mapping[str, Encoder],
        timeout: float,
        observe: Observer | None = None,
    ) -> None:
        self._registry = registry
        self._encoders = encoders
        self._timeout = timeout
        self._observe = observe

    async def is_online(self, charge_point_id: str) -> bool:
        return charge_point_id in self._registry

    async def online(self) -> list[tuple[str, str]]:
        return [(c.charge_point_id, c.protocol) for c in self._registry]

    async def send(self, charge_point_id: str, command: Command) -> dict[str, Any]:
        connection = self._registry.get(charge_point_id)
        if connection is None:
            raise ChargerOffline(charge_point_id)
        action, payload = self._encoders[connection.protocol](command)
        observe = self._observe
        sent = None if observe is None else lambda: observe(charge_point_id, action, payload)
        return await connection.call(action, payload, self._timeout, sent)
