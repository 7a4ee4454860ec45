"""The ``/OCPP/{chargePointId}`` websocket: admission, then the message loop.

Admission answers in HTTP before the upgrade, as chargers and proxies expect:
400 without a supported subprotocol, 412 for an unknown charger, 401 with a
``WWW-Authenticate`` challenge for wrong credentials, 503 while the database
that knows the chargers can't be reached (the charger tries again later), 503
too while the node drains before it stops (a load balancer tries another node).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.domain.chargepoints import charge_point_id_problem
from ocpp_core.domain.command_errors import ChargerOffline
from ocpp_core.ocpp.adapter import ChargerContext, ProtocolAdapter
from ocpp_core.ocpp.auth import authentication_problem
from ocpp_core.ocpp.connection import Connection
from ocpp_core.ocpp.dispatch import handle_message
from ocpp_core.runtime import Runtime

logger = logging.getLogger(__name__)

_closing: set[asyncio.Task[None]] = set()  # strong references until the task is done

Endpoint = Callable[[WebSocket], Awaitable[None]]


def charge_point_id_from_path(path: str) -> str:
    """The last non-empty path segment, so ``/OCPP/x/CP1`` and ``/OCPP/CP1/`` both give CP1."""
    segments = [segment for segment in path.split("/") if segment]
    return segments[-1] if len(segments) > 1 else ""


def choose_subprotocol(offered: Sequence[str], preferred: Sequence[str]) -> str | None:
    offered_set = {item.strip().lower() for item in offered}
    return next((p for p in preferred if p in offered_set), None)


def ocpp_endpoint(runtime: Runtime, adapters: Mapping[str, ProtocolAdapter]) -> Endpoint:
    async def endpoint(websocket: WebSocket) -> None:
        admitted = await _admit(runtime, websocket)
        if admitted is None:
            return
        charge_point_id, subprotocol = admitted
        # Written before the handshake completes: once a charger is connected, every
        # node and the API say so.
        token = await runtime.presence.connected(charge_point_id, subprotocol)
        try:
            await websocket.accept(subprotocol=subprotocol)
        except BaseException:
            await runtime.presence.disconnected(charge_point_id, token)
            raise
        await _serve(runtime, adapters[subprotocol], websocket, charge_point_id, token)

    return endpoint


async def _admit(runtime: Runtime, websocket: WebSocket) -> tuple[str, str] | None:
    if runtime.draining:
        await _deny(runtime, websocket, 503, "this node is stopping; connect again")
        return None
    charge_point_id = charge_point_id_from_path(websocket.url.path)
    subprotocol = choose_subprotocol(
        websocket.scope.get("subprotocols", []), runtime.settings.ocpp.subprotocols
    )
    if subprotocol is None:
        supported = ", ".join(runtime.settings.ocpp.subprotocols)
        await _deny(runtime, websocket, 400, f"no supported subprotocol (use {supported})")
        return None
    if not charge_point_id:
        await _deny(runtime, websocket, 400, "charge point id missing from the path")
        return None
    if problem := charge_point_id_problem(charge_point_id):
        await _deny(runtime, websocket, 400, f"not a charge point id: {problem}")
        return None
    try:
        charge_point = await runtime.charge_points.get(charge_point_id)
    except DatabaseUnavailable:
        await _deny(runtime, websocket, 503, "the central system is unavailable; try again later")
        return None
    if charge_point is None:
        logger.warning("unknown charge point %r refused", charge_point_id)
        await _deny(runtime, websocket, 412, "unknown charge point")
        return None
    problem = authentication_problem(
        charge_point, websocket.headers.get("authorization"), websocket.scope
    )
    if problem is not None:
        logger.warning("charge point %r refused: %s", charge_point_id, problem)
        await _deny(runtime, websocket, 401, problem)
        return None
    return charge_point_id, subprotocol


async def _deny(runtime: Runtime, websocket: WebSocket, status: int, reason: str) -> None:
    runtime.metrics.rejected_connections.labels(str(status)).inc()
    headers = {"WWW-Authenticate": 'Basic realm="ocpp-core"'} if status == 401 else None
    await websocket.send_denial_response(
        PlainTextResponse(reason + "\n", status_code=status, headers=headers)
    )


async def _serve(
    runtime: Runtime,
    adapter: ProtocolAdapter,
    websocket: WebSocket,
    charge_point_id: str,
    token: str,
) -> None:
    connection = Connection(
        charge_point_id,
        adapter.subprotocol,
        adapter.schemas,
        websocket.send_text,
        lambda code: websocket.close(code),
        token,
    )
    previous = runtime.registry.add(connection)
    if previous is not None:
        logger.info("%s reconnected; closing its previous socket", charge_point_id)
        task = asyncio.create_task(_close_quietly(previous))
        _closing.add(task)
        task.add_done_callback(_closing.discard)
    else:
        runtime.metrics.connected.inc()
    ctx = ChargerContext(charge_point_id, adapter.subprotocol, runtime)
    try:
        if runtime.cluster is not None:  # once registered: a relayed command finds the socket
            await runtime.cluster.connected(connection)
        runtime.presence.seen(charge_point_id, runtime.clock(), adapter.subprotocol)
        # Once this side closed the socket (a reconnect replaced it, or shutdown),
        # frames still queued are left unanswered: the charger resends them.
        while not connection.closed:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            runtime.presence.seen(charge_point_id, runtime.clock())
            raw = message.get("text")
            await handle_message(
                ctx, adapter, connection, raw if raw is not None else message["bytes"]
            )
    except (WebSocketDisconnect, ChargerOffline):
        pass
    finally:
        connection.abandon()
        try:
            # Offline in the database first: once this node lets go, every reader agrees.
            await runtime.presence.disconnected(charge_point_id, token)
            if runtime.cluster is not None:
                await runtime.cluster.disconnected(connection)
        finally:
            if runtime.registry.remove(connection):
                runtime.metrics.connected.dec()
                runtime.presence.seen(charge_point_id, runtime.clock())


async def _close_quietly(connection: Connection) -> None:
    try:
        await connection.close(1000)
    except Exception:
        logger.debug("closing a replaced connection failed", exc_info=True)
