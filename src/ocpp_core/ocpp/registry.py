"""Live connections held by this process.

A reconnect replaces the entry; the closing of the replaced socket must then not
evict the newer one, hence the identity check in :meth:`ConnectionRegistry.remove`.
"""

from __future__ import annotations

from collections.abc import Iterator

from ocpp_core.ocpp.connection import Connection


class ConnectionRegistry:
    def __init__(self) -> None:
        self._connections: dict[str, Connection] = {}

    def add(self, connection: Connection) -> Connection | None:
        """Register a connection, returning the one it replaces, if any."""
        previous = self._connections.get(connection.charge_point_id)
        self._connections[connection.charge_point_id] = connection
        return previous

    def remove(self, connection: Connection) -> bool:
        """Forget a connection only if it is still the current one for its charger."""
        if self._connections.get(connection.charge_point_id) is connection:
            del self._connections[connection.charge_point_id]
            return True
        return False

    def get(self, charge_point_id: str) -> Connection | None:
        return self._connections.get(charge_point_id)

    def __contains__(self, charge_point_id: object) -> bool:
        return charge_point_id in self._connections

    def __len__(self) -> int:
        return len(self._connections)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._connections.values()))
