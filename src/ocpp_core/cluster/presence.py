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

A node's liveness key holds a token of its process: it is claimed with SET NX
(two processes started at once with one node id: one wins), refreshed and
removed only by the process whose token it holds (:meth:`RedisPresence.refresh`,
:meth:`RedisPresence.leave`), so a twin never extends or deletes it.

A connection's token is the one the database presence gave it: an entry is
removed only by the connection that wrote it, so the close of a socket a
reconnect replaced never evicts the newer entry (the rule of
``ConnectionRegistry.remove``, cluster-wide).

The scripts read the liveness key of the node an entry names, which Redis
Cluster would refuse (keys must be declared): the cluster uses one Redis
server (with replicas for failover), not a Redis Cluster.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from redis.asyncio import Redis

NODE_TTL_MS = 10_000
REFRESH_EVERY = 3.0  # seconds; a liveness key outlives three missed refreshes
SWEEP_EVERY_MS = 2_500  # one node per refresh round looks for dead nodes

# Extend our liveness if the key is still ours; take it again if it expired.
_REFRESH = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"""
# Replace the token of a process found dead, unless another process took the key meanwhile.
_TAKE_OVER = """
local held = redis.call('GET', KEYS[1])
if (not held and ARGV[1] == '') or held == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
# Delete our liveness key, never a twin's.
_LEAVE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
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


class Liveness(enum.Enum):
    """What a refresh found: the key ours, lost (expired, written again), or another's."""

    HELD = 1
    LOST = 2
    TAKEN = 0


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
        self.token = uuid.uuid4().hex  # this process's, in its liveness key
        self._chargers = f"{prefix}:chargers"
        self._nodes = f"{prefix}:nodes"  # every node that joined and has not left or been swept
        self._sweep = f"{prefix}:sweep"
        self._node_key_prefix = f"{prefix}:node:"
        self._connect = redis.register_script(_CONNECT)
        self._remove = redis.register_script(_REMOVE)
        self._find = redis.register_script(_FIND)
        self._refresh = redis.register_script(_REFRESH)
        self._take_over = redis.register_script(_TAKE_OVER)
        self._leave = redis.register_script(_LEAVE)

    def node_key(self, node_id: str) -> str:
        return self._node_key_prefix + node_id

    async def claim(self) -> str | None:
        """Write our liveness key if no process has it: None, or the token of the one that has."""
        key = self.node_key(self.node_id)
        if await self._redis.set(key, self.token, px=NODE_TTL_MS, nx=True):
            await self._redis.sadd(self._nodes, self.node_id)
            return None
        held = await self._redis.get(key)
        return "" if held is None else _text(held)  # "": it expired since

    async def take_over(self, dead_token: str) -> bool:
        """Replace a dead process's key (``dead_token``, from :meth:`claim`) with ours."""
        args: list[str | int] = [dead_token, self.token, NODE_TTL_MS]
        if not await self._take_over([self.node_key(self.node_id)], args):
            return False
        await self._redis.sadd(self._nodes, self.node_id)
        return True

    async def refresh(self) -> Liveness:
        """Extend this node's liveness, once claimed.

        LOST if Redis had lost it (restarted, or we stalled): written again, the
        caller writes its chargers again (:meth:`restore`). TAKEN if another
        process holds it now: this one must stop.
        """
        async with self._redis.pipeline(transaction=False) as pipe:
            await self._refresh(
                [self.node_key(self.node_id)], [self.token, NODE_TTL_MS], client=pipe
            )
            pipe.sadd(self._nodes, self.node_id)
            found, _ = await pipe.execute()
        return Liveness(found)

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
        if await self._leave([self.node_key(self.node_id)], [self.token]):
            await self._redis.srem(self._nodes, self.node_id)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
