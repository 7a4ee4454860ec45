"""The command router of a cluster: the local socket if this node has it, else its holder's.

The caller's node spells the CALL in the protocol the charger connected with
(presence says which) and relays the OCPP action and payload, not the
version-neutral command: the holder then needs no decoder of our command
types, a command the charger's version lacks fails here at once, and what
crosses Redis is what the message log shows. If the holder has no socket for
the charger after all (it just left, or came back with another protocol),
nothing was sent, so looking again and sending to the new holder sends the
command once: up to :data:`HOPS` holders are tried, then it is offline.
"""

from __future__ import annotations

from redis.exceptions import RedisError

from ocpp_core.cluster.node import ClusterNode, NotHere
from ocpp_core.cluster.presence import Holder
from ocpp_core.domain.command_errors import ChargerOffline, RouteUnavailable
from ocpp_core.domain.command_results import CommandResult
from ocpp_core.domain.commands import Command
from ocpp_core.ocpp.registry import ConnectionRegistry
from ocpp_core.ocpp.router import LocalCommandRouter

HOPS = 3


class ClusterCommandRouter:
    def __init__(
        self, registry: ConnectionRegistry, local: LocalCommandRouter, node: ClusterNode
    ) -> None:
        self._registry = registry
        self._local = local
        self._node = node

    async def is_online(self, charge_point_id: str) -> bool:
        return charge_point_id in self._registry or await self._holder(charge_point_id) is not None

    async def online(self) -> list[tuple[str, str]]:
        try:
            holders = await self._node.presence.online()
        except RedisError as error:
            raise RouteUnavailable("*", str(error)) from None
        chargers = {cp: holder.protocol for cp, holder in holders.items()}
        chargers.update((c.charge_point_id, c.protocol) for c in self._registry)
        return sorted(chargers.items())

    async def send(self, charge_point_id: str, command: Command) -> CommandResult:
        for _ in range(HOPS):
            local = self._registry.get(charge_point_id)
            if local is not None and not local.closed:
                try:
                    return await self._local.send(charge_point_id, command)
                except ChargerOffline:
                    pass  # closed here meanwhile, nothing sent: another node may hold it now
            holder = await self._holder(charge_point_id)
            if holder is None or holder.node_id == self._node.node_id:
                break  # ours while it connects or closes: not yet, or no longer, here
            action, payload = self._local.encode(holder.protocol, command)
            try:
                answer = await self._node.call(holder, charge_point_id, action, payload)
            except NotHere:
                continue
            return self._local.answered(holder.protocol, command, answer)
        raise ChargerOffline(charge_point_id)

    async def _holder(self, charge_point_id: str) -> Holder | None:
        try:
            return await self._node.presence.find(charge_point_id)
        except RedisError as error:
            raise RouteUnavailable(charge_point_id, str(error)) from None
