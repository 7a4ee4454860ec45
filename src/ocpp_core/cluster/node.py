"""This process as a node of the cluster: its liveness, its channels, the calls it relays.

Each node has two channels, ``<prefix>:node:<id>:requests`` and ``...:replies``,
both read on one pub/sub connection. A CALL for a charger held elsewhere is
published once to the holder's request channel, with a request id, our reply
channel and a deadline; the holder sends it through its local router (so the
message log records it once, where the socket is) and publishes the outcome to
our reply channel.

Redis pub/sub delivers at most once, and nothing here publishes a request
twice: a command reaches the charger at most once. Whatever gets lost, the
caller's wait ends: at the command timeout (plus :data:`REPLY_MARGIN` for the
trip back), sooner when the holder's liveness key expires, and at once when
this node loses its channels (Redis restarted or cut off: a reply published
while we are not subscribed is gone for good), with the timeout error a local
call raises (the charger may have had the CALL). Until we are subscribed
again no request goes out, since its reply could not come back: the caller
gets the error of an unreachable Redis instead. The
holder drops a request whose deadline passed instead of sending it late, so
deadlines compare wall clocks: keep the nodes' clocks in sync (NTP).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ocpp_core.cluster.presence import REFRESH_EVERY, Holder, Liveness, RedisPresence
from ocpp_core.cluster.wire import (
    CallRequest,
    DropRequest,
    Reply,
    decode_reply,
    decode_request,
    describe_error,
    encode_reply,
    encode_request,
    rebuild_error,
)
from ocpp_core.config import ENV_PREFIX, ClusterSettings, ConfigError
from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.domain.command_errors import (
    ChargerOffline,
    CommandError,
    CommandTimeout,
    RouteUnavailable,
)
from ocpp_core.domain.presence import Presence
from ocpp_core.ocpp.connection import Connection
from ocpp_core.ocpp.framing import FrameError
from ocpp_core.ocpp.registry import ConnectionRegistry
from ocpp_core.ocpp.router import LocalCommandRouter

logger = logging.getLogger(__name__)

REPLY_MARGIN = 1.0  # seconds for a reply to come back after the charger's time is up
REDIS_TIMEOUT = 5.0  # seconds for one Redis command: a Redis that went silent fails, not hangs
REDIS_CONNECTIONS = 50  # a node's connections to Redis, its subscription's included


class NotHere(Exception):
    """The node named as holder had no socket for the charger: nothing was sent."""


class NodeIdInUse(ConfigError):
    """Another running process has this node id."""


class ClusterNode:
    def __init__(
        self,
        settings: ClusterSettings,
        registry: ConnectionRegistry,
        local: LocalCommandRouter,
        stored: Presence,
        command_timeout: float,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.node_id = settings.node_id
        # A storm of chargers makes a presence write each at once: past its size the
        # pool makes them wait their turn (up to REDIS_TIMEOUT), where redis-py's
        # default pool refuses them ("Too many connections") and leaves them to the
        # next refresh, showing those chargers offline to the other nodes meanwhile.
        pool = BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=REDIS_CONNECTIONS,
            timeout=REDIS_TIMEOUT,
            # Never again by itself: a PUBLISH that timed out may have gone out.
            retry=Retry(NoBackoff(), 0),
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
            health_check_interval=int(REFRESH_EVERY),
        )
        self._redis = Redis.from_pool(pool)  # closing the client closes its pool
        self.presence = RedisPresence(self._redis, settings.prefix, self.node_id)
        self._prefix = settings.prefix
        self._registry = registry
        self._local = local
        self._stored = stored  # the presence rows in the database, which SQL pages read
        self._timeout = command_timeout
        self._wall_clock = wall_clock
        self._requests = self.channel(self.node_id, "requests")
        self._replies = self.channel(self.node_id, "replies")
        self._waiting: dict[str, tuple[str, asyncio.Future[Reply]]] = {}
        self._serving: set[asyncio.Task[None]] = set()
        # Connects and disconnects Redis refused, by token: written at the next refresh.
        self._unwritten: dict[str, Connection] = {}
        self._unremoved: dict[str, Connection] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._pubsub: PubSub | None = None
        self.listening = False  # subscribed to our channels right now
        self._subscribed = asyncio.Event()  # and Redis has confirmed both subscriptions
        self._unreachable = asyncio.Event()  # the last try to subscribe failed
        self._claimed = False  # our liveness key is ours: we serve our request channel
        self._behind = False  # our liveness expired and our chargers are not written again yet

    def channel(self, node_id: str, kind: str) -> str:
        return f"{self._prefix}:node:{node_id}:{kind}"

    async def start(self) -> None:
        """Join the cluster; a Redis that can't be reached yet is joined once it answers.

        Meanwhile the node serves its own chargers and ``/health`` says 503.
        """
        self._pubsub = self._redis.pubsub()  # confirmations count: see _listen
        self._tasks = [asyncio.create_task(self._listen(self._pubsub), name="cluster-listen")]
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                await self._subscribed_or_failed()
            await self._claim()
        except (RedisError, TimeoutError) as error:
            logger.warning("cluster: Redis can't be reached (%r); joining when it answers", error)
        except NodeIdInUse:
            await self.stop()
            raise
        self._tasks.append(asyncio.create_task(self._keep_alive(), name="cluster-liveness"))

    async def _subscribed_or_failed(self) -> None:
        """Until the first subscription is confirmed; RedisError if it failed."""
        subscribed = asyncio.create_task(self._subscribed.wait())
        failed = asyncio.create_task(self._unreachable.wait())
        await asyncio.wait([subscribed, failed], return_when=asyncio.FIRST_COMPLETED)
        subscribed.cancel()
        failed.cancel()
        if not self._subscribed.is_set():
            raise RedisError("subscribing to our channels failed")

    async def _claim(self) -> None:
        """Take our node id's liveness key, once subscribed to our channels.

        Two live processes with one node id would both take its requests: one
        CALL could then reach the charger twice. SET NX lets one process have
        the key; the other finds it taken. A key left by a process that died
        (for up to its expiry) is taken over when no other process reads our
        request channel: each claimant subscribes before it claims, so of two
        started at once the second to look always sees the first.
        """
        held = await self.presence.claim()
        if held is not None:
            [(_, readers)] = await self._redis.pubsub_numsub(self._requests)
            if readers > 1 or not await self.presence.take_over(held):
                raise NodeIdInUse(
                    f"{ENV_PREFIX}CLUSTER__NODE_ID (cluster.node_id): another running node is "
                    f"{self.node_id!r}; give each process a node id of its own"
                )
        self._claimed = True

    async def stop(self) -> None:
        """Leave: our chargers are offline everywhere at once; waiting callers get their error."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for task in list(self._serving):
            task.cancel()
        await asyncio.gather(*self._serving, return_exceptions=True)
        self._end_waits("this node is stopping")
        try:
            await self.presence.leave()
        except RedisError:
            logger.warning("cluster: could not remove our liveness key; it expires by itself")
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._redis.aclose()

    async def ping(self) -> None:
        """Raises unless Redis answers and our channels are subscribed."""
        if not self.listening:
            raise RedisError("not subscribed to this node's channels")
        await self._redis.ping()

    # -- the calling side ---------------------------------------------------------------------

    async def call(
        self, holder: Holder, charge_point_id: str, action: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Send a CALL through ``holder``'s node: the charger's answer or its CommandError.

        :class:`NotHere` when that node has no socket for the charger (nothing was sent).
        """
        if not self.listening:
            raise RouteUnavailable(charge_point_id, "this node's reply channel is not subscribed")
        request_id = uuid.uuid4().hex
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = (holder.node_id, future)
        request = CallRequest(
            request_id,
            self._replies,
            self._wall_clock() + self._timeout,
            charge_point_id,
            holder.protocol,
            action,
            payload,
        )
        try:
            try:
                receivers = await self._redis.publish(
                    self.channel(holder.node_id, "requests"), encode_request(request)
                )
            except RedisError as error:
                # Whether it went out is unknown, as after a timeout; it is never published again.
                raise CommandTimeout(f"{action} to {charge_point_id}: {error}") from None
            if receivers == 0:  # the node is gone (or lost its subscription): nothing went out
                raise ChargerOffline(charge_point_id)
            try:
                async with asyncio.timeout(self._timeout + REPLY_MARGIN):
                    reply = await future
            except TimeoutError:
                raise CommandTimeout(f"{action} to {charge_point_id} timed out") from None
        finally:
            self._waiting.pop(request_id, None)
        if reply.error is None:
            return reply.answer or {}
        failure = rebuild_error(reply.error)
        if isinstance(failure, ChargerOffline):
            raise NotHere(charge_point_id)
        raise failure

    def _replied(self, raw: bytes) -> None:
        reply = decode_reply(raw)
        waiting = self._waiting.get(reply.request_id)
        if waiting is not None and not waiting[1].done():
            waiting[1].set_result(reply)

    def _end_waits(self, reason: str) -> None:
        """Every waiting call ends now with the timeout error: its reply can't come."""
        for _node, future in self._waiting.values():
            if not future.done():
                future.set_exception(CommandTimeout(reason))

    async def _give_up_on_dead_nodes(self) -> None:
        """Calls waiting for a node whose liveness expired end now, not at their timeout."""
        waiting = list(self._waiting.values())
        alive = await self.presence.node_alive(node for node, _ in waiting)
        for node, future in waiting:
            if not alive[node] and not future.done():
                future.set_exception(CommandTimeout(f"node {node} went away during the call"))

    # -- the holding side ---------------------------------------------------------------------

    async def connected(self, connection: Connection) -> None:
        """Write that we hold the charger; tell the node that held it before to let go.

        While Redis can't be reached the charger is served all the same (commands
        from this node reach it) and the entry is written at the next refresh.
        """
        try:
            await self._take(connection)
        except RedisError as error:
            logger.warning("cluster: %s connected, written later (%s)", connection.token, error)
            self._unwritten[connection.token] = connection

    async def _take(self, connection: Connection) -> None:
        cp = connection.charge_point_id
        previous = await self.presence.connected(cp, self._holder(connection))
        if previous is not None and previous.node_id != self.node_id:
            drop = encode_request(DropRequest(cp, previous.token))
            await self._redis.publish(self.channel(previous.node_id, "requests"), drop)

    async def disconnected(self, connection: Connection) -> None:
        """Remove our entry, unless a newer connection (on any node) wrote its own."""
        if self._unwritten.pop(connection.token, None) is not None:
            return
        try:
            await self.presence.disconnected(connection.charge_point_id, self._holder(connection))
        except RedisError as error:
            logger.warning("cluster: %s disconnected, removed later (%s)", connection.token, error)
            self._unremoved[connection.token] = connection

    def _holder(self, connection: Connection) -> Holder:
        return Holder(self.node_id, connection.protocol, connection.token)

    async def _catch_up(self) -> None:
        """Write the connects and disconnects Redis refused, oldest first."""
        for token, connection in list(self._unwritten.items()):
            if self._registry.get(connection.charge_point_id) is connection:
                await self._take(connection)
            del self._unwritten[token]
        for token, connection in list(self._unremoved.items()):
            await self.presence.disconnected(connection.charge_point_id, self._holder(connection))
            del self._unremoved[token]

    async def _serve(self, raw: bytes) -> None:
        request = decode_request(raw)
        if isinstance(request, DropRequest):
            await self._drop(request)
            return
        remaining = request.deadline - self._wall_clock()
        if remaining <= 0:
            cp = request.charge_point_id
            logger.warning("cluster: %s for %s came after its deadline", request.action, cp)
            return
        reply = await self._relay(request, min(remaining, self._timeout))
        await self._redis.publish(request.reply_to, encode_reply(reply))

    async def _relay(self, request: CallRequest, timeout: float) -> Reply:
        connection = self._registry.get(request.charge_point_id)
        if connection is None or connection.protocol != request.protocol:
            # Gone, or back with another protocol: nothing sent; the caller looks again.
            return Reply(request.request_id, error=describe_error(ChargerOffline("not here")))
        try:
            answer = await self._local.call(connection, request.action, request.payload, timeout)
        except (CommandError, FrameError) as error:
            return Reply(request.request_id, error=describe_error(error))
        return Reply(request.request_id, answer=answer)

    async def _drop(self, request: DropRequest) -> None:
        connection = self._registry.get(request.charge_point_id)
        if connection is not None and connection.token == request.token:
            cp = connection.charge_point_id
            logger.info("%s reconnected to another node; closing its socket here", cp)
            await connection.close(1000)

    # -- the loops ------------------------------------------------------------------------------

    async def _listen(self, pubsub: PubSub) -> None:
        """Read both channels; after a lost connection, subscribe again and go on.

        A read waits a second at most, so a silent connection is found by the
        health check pings between reads. Requests that come before our node id
        is claimed are another process's (a twin's, or the dead one's): dropped.
        """
        confirmed: set[str] = set()
        while True:
            try:
                if not self.listening:
                    await pubsub.subscribe(self._requests, self._replies)
                    self.listening = True
                message = await pubsub.get_message(timeout=1.0)
            except RedisError as error:
                if self.listening:
                    logger.warning("cluster: lost our channels (%s); subscribing again", error)
                    self._end_waits(f"lost the reply channel during the call ({error})")
                self.listening = False
                self._subscribed.clear()
                self._unreachable.set()
                confirmed.clear()
                await asyncio.sleep(1.0)
                continue
            if message is None or message["type"] not in ("subscribe", "message"):
                continue
            channel = message["channel"].decode()
            if message["type"] == "subscribe":
                confirmed.add(channel)
                if len(confirmed) == 2:
                    self._unreachable.clear()
                    self._subscribed.set()
                continue
            if channel == self._replies:
                try:
                    self._replied(message["data"])
                except (ValueError, KeyError, TypeError):
                    logger.warning("cluster: ignored a malformed reply")
                continue
            if not self._claimed:
                continue
            task = asyncio.create_task(self._serve_safely(message["data"]))
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)

    async def _serve_safely(self, raw: bytes) -> None:
        try:
            await self._serve(raw)
        except (ValueError, KeyError, TypeError):
            logger.warning("cluster: ignored a malformed request")
        except RedisError as error:
            logger.warning("cluster: could not answer a request: %s", error)
        except Exception:
            logger.exception("cluster: serving a request failed")

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_EVERY)
            try:
                if not self._claimed:  # Redis did not answer at start
                    if not self._subscribed.is_set():
                        continue
                    await self._claim()
                found = await self.presence.refresh()
                if found is Liveness.TAKEN:
                    raise NodeIdInUse(f"another process took over node id {self.node_id!r}")
                if found is Liveness.LOST:
                    self._behind = True
                if self._behind:
                    await self._rejoin()
                    self._behind = False
                await self._catch_up()
                if gone := await self.presence.sweep_dead_nodes():
                    logger.warning("cluster: %d chargers of dead nodes are offline", len(gone))
                    await self._stored.released([(cp, h.token) for cp, h in gone.items()])
                if self._waiting:
                    await self._give_up_on_dead_nodes()
            except RedisError as error:
                logger.warning("cluster: refreshing our liveness failed: %s", error)
            except DatabaseUnavailable:
                pass  # the database's health says so; the next round tries again
            except NodeIdInUse as error:
                _stop_now(error)

    async def _rejoin(self) -> None:
        """Redis lost our liveness (it restarted, or we were cut off from it for longer than
        its expiry and another node may have swept our chargers): write them again."""
        logger.warning("cluster: our liveness had expired; writing our chargers again")
        connections = list(self._registry)
        await self.presence.restore((c.charge_point_id, self._holder(c)) for c in connections)
        await self._stored.reclaimed(
            [(c.charge_point_id, c.token, c.protocol) for c in connections]
        )


def _stop_now(error: NodeIdInUse) -> None:
    """This process found its node id in another's hands while serving (it started while
    Redis was away, or stalled past its expiry): both would take the id's requests, so one
    CALL could reach a charger twice. It ends at once, before it reads another request;
    its chargers reconnect to other nodes."""
    logger.error("cluster: %s; this process stops now", error)
    logging.shutdown()
    os._exit(1)
