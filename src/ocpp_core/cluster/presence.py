"""Which node holds which charger's socket, in Redis, for every node to read.

One hash maps each connected charger to ``node protocol token``. A charger's
entry is never refreshed on its own: each node keeps one liveness key with a
short expiry and refreshes that, and an entry whose node's key is gone counts
as offline. So a node that dies loses all its chargers within
:data:`NODE_TTL_MS` at the cost of one write per node every
:data:`REFRESH_EVERY` seconds, whatever the size of the fleet. One node
per round looks for nodes that died and deletes their entries (and the
database's presence rows with them, see ``ClusterNode``); readers skip them
until then.

A connection's token is the one the database presence gave it: an entry is
removed only by the connection that wrote it, so the close of a socket a
reconnect replaced never evicts the newer entry (the rule of
``ConnectionRegistry.remove``, cluster-wide).

The scripts read the liveness key of the node an entry names, which Redis
Cluster would refuse (keys must be declared): the cluster uses one Redis
server (with replicas for failover), not a Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from redis.asyncio import Redis

NODE_TTL_MS = 10_000
REFRESH_EVERY = 3.0  # seconds; a liveness key outlives three missed refreshes
SWEEP_EVERY_MS = 2_500  # one node per refresh round looks for dead nodes

# Write ours, return what was there (a socket on another node to drop).
_CONNECT = """
local previous = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return previous
"""
# Remove an entry only if it is still the one given (token and all).
_REMOVE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""
# The entry, if the node it names is alive.
_FIND = """
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return false end
local node = string.match(entry, '^(%S+)')
if redis.call('EXISTS', ARGV[2] .. node) == 1 then return entry end
return false
"""


@dataclass(frozen=True, slots=True)
class Holder:
    """The node holding a charger's socket, the protocol it speaks and its connection token."""

    node_id: str
    protocol: str
    token: str

    def encode(self) -> str:
        return f"{self.node_id} {self.protocol} {self.token}"

    @classmethod
    def decode(cls, value: str) -> Holder:
        node_id, protocol, token = value.split(" ", 2)
        return cls(node_id, protocol, token)


class RedisPresence:
    def __init__(self, redis: Redis, prefix: str, node_id: str) -> None:
        self._redis = redis
        self.node_id = node_id
        self._chargers = f"{prefix}:chargers"
        self._nodes = f"{prefix}:nodes"  # every node that joined and has not left or been swept
        self._sweep = f"{prefix}:sweep"
        self._node_key_prefix = f"{prefix}:node:"
        self._connect = redis.register_script(_CONNECT)
        self._remove = redis.register_script(_REMOVE)
        self._find = redis.register_script(_FIND)
        self._alive = False  # our liveness key was written at least once

    def node_key(self, node_id: str) -> str:
        return self._node_key_prefix + node_id

    async def refresh(self) -> bool:
        """Extend this node's liveness; False if Redis had lost it (restarted, or we stalled).

        The caller then writes its chargers again (:meth:`restore`).
        """
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self.node_key(self.node_id), "1", px=NODE_TTL_MS, get=True)
            pipe.sadd(self._nodes, self.node_id)
            previous, _ = await pipe.execute()
        lost = self._alive and previous is None
        self._alive = True
        return not lost

    async def connected(self, charge_point_id: str, holder: Holder) -> Holder | None:
        """Write that ``holder`` holds the charger now; the holder it replaced, if any."""
        previous = await self._connect([self._chargers], [charge_point_id, holder.encode()])
        return None if previous is None else Holder.decode(_text(previous))

    async def disconnected(self, charge_point_id: str, holder: Holder) -> None:
        """Remove the charger's entry if it is still ``holder``'s."""
        await self._remove([self._chargers], [charge_point_id, holder.encode()])

    async def restore(self, connections: Iterable[tuple[str, Holder]]) -> None:
        """Write entries Redis lost, without overwriting any that a newer connection wrote."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for charge_point_id, holder in connections:
                pipe.hsetnx(self._chargers, charge_point_id, holder.encode())
            await pipe.execute()

    async def find(self, charge_point_id: str) -> Holder | None:
        """The live node holding the charger, or None: not connected, or its node is dead."""
        entry = await self._find([self._chargers], [charge_point_id, self._node_key_prefix])
        return None if entry is None else Holder.decode(_text(entry))

    async def node_alive(self, node_ids: Iterable[str]) -> dict[str, bool]:
        nodes = list(dict.fromkeys(node_ids))
        if not nodes:
            return {}
        counts = await self._exists_each(nodes)
        return dict(zip(nodes, counts, strict=True))

    async def _exists_each(self, nodes: list[str]) -> list[bool]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for node in nodes:
                pipe.exists(self.node_key(node))
            return [bool(count) for count in await pipe.execute()]

    async def online(self) -> dict[str, Holder]:
        """Every charger a live node holds; the entries of dead nodes are deleted on the way."""
        raw = await self._redis.hgetall(self._chargers)
        holders = {_text(cp): Holder.decode(_text(value)) for cp, value in raw.items()}
        alive = await self.node_alive(holder.node_id for holder in holders.values())
        dead = {cp: h for cp, h in holders.items() if not alive[h.node_id]}
        await self._remove_each(dead)
        return {cp: h for cp, h in holders.items() if cp not in dead}

    async def _remove_each(self, entries: dict[str, Holder]) -> None:
        if not entries:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for cp, holder in entries.items():
                await self._remove([self._chargers], [cp, holder.encode()], client=pipe)
            await pipe.execute()

    async def sweep_dead_nodes(self) -> dict[str, Holder]:
        """The entries of nodes that died, deleted; by one node of the cluster per round.

        A node's death is rare and the sweep reads the whole hash only then (in
        steps); every other round costs a lock and a look at the nodes' keys.
        """
        if not await self._redis.set(self._sweep, self.node_id, px=SWEEP_EVERY_MS, nx=True):
            return {}  # another node sweeps this round
        nodes = [_text(node) for node in await self._redis.smembers(self._nodes)]
        alive = await self.node_alive(nodes)
        dead = {node for node, up in alive.items() if not up}
        if not dead:
            return {}
        gone: dict[str, Holder] = {}
        async for cp, value in self._redis.hscan_iter(self._chargers, count=1000):
            holder = Holder.decode(_text(value))
            if holder.node_id in dead:
                gone[_text(cp)] = holder
        await self._remove_each(gone)
        await self._redis.srem(self._nodes, *dead)
        return gone

    async def leave(self) -> None:
        """This node stops: its liveness goes at once, so its entries are offline everywhere."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(self.node_key(self.node_id))
            pipe.srem(self._nodes, self.node_id)
            await pipe.execute()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
