"""Live connections: reconnects replace, closing cleans up, silent chargers go offline."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from builders import add_charge_point
from ocpp_core.config import OcppSettings
from ocpp_core.db.models import ChargePoint
from servers import ConnectCharger, RunningServer

OCPP16 = [Subprotocol("ocpp1.6")]
KEEPALIVE = 0.2


@pytest.fixture
def ocpp_settings() -> OcppSettings:
    return OcppSettings(
        command_timeout=3, keepalive_interval=KEEPALIVE, keepalive_timeout=KEEPALIVE
    )


@pytest.fixture
async def cp1(server: RunningServer) -> str:
    await add_charge_point(server.runtime.db, "CP1")
    return "CP1"


async def raw_socket(server: RunningServer, charge_point_id: str = "CP1") -> ClientConnection:
    return await connect(
        f"{server.ws_url}/{charge_point_id}", subprotocols=OCPP16, ping_interval=None
    )


@pytest.fixture
async def raw(server: RunningServer, cp1: str) -> AsyncIterator[ClientConnection]:
    async with await raw_socket(server) as websocket:
        yield websocket


async def connected_gauge(server: RunningServer) -> float:
    metrics = (await server.api.get("/metrics")).text
    line = next(
        line for line in metrics.splitlines() if line.startswith("ocpp_connected_chargers ")
    )
    return float(line.split()[1])


async def online_ids(server: RunningServer) -> list[str]:
    response = await server.api.get("/API/Status")
    assert response.status_code == 200
    return [charger["id"] for charger in response.json()]


async def until_offline(
    server: RunningServer, charge_point_id: str = "CP1", within: float = 5
) -> None:
    async with asyncio.timeout(within):
        while True:
            if charge_point_id not in server.runtime.registry:
                return
            await asyncio.sleep(0.01)


async def heartbeat(websocket: ClientConnection, unique_id: str = "hb") -> dict[str, Any]:
    await websocket.send(json.dumps([2, unique_id, "Heartbeat", {}]))
    async with asyncio.timeout(5):
        frame = json.loads(await websocket.recv())
    assert frame[:2] == [3, unique_id]
    answer: dict[str, Any] = frame[2]
    return answer


async def test_a_connected_charger_is_online(
    server: RunningServer, cp1: str, charger: ConnectCharger
) -> None:
    assert await online_ids(server) == []
    await charger("CP1")
    assert await online_ids(server) == ["CP1"]
    assert await connected_gauge(server) == 1
    connection = server.runtime.registry.get("CP1")
    assert connection is not None
    assert connection.protocol == "ocpp1.6"
    await server.runtime.presence.flush()
    async with server.runtime.db.session() as session:
        row = await session.get(ChargePoint, "CP1")
    assert row is not None
    assert row.protocol == "ocpp1.6"
    assert row.last_seen_at is not None


async def test_a_reconnect_replaces_the_old_connection(
    server: RunningServer, cp1: str, charger: ConnectCharger
) -> None:
    old = await charger("CP1")
    old_connection = server.runtime.registry.get("CP1")
    new = await charger("CP1")
    new_connection = server.runtime.registry.get("CP1")
    assert new_connection is not None
    assert new_connection is not old_connection
    # The server closes the old socket itself.
    async with asyncio.timeout(5):
        await old.connection.websocket.wait_closed()
    assert old.connection.websocket.close_code == 1000
    # The old socket's end did not evict the new connection.
    await asyncio.sleep(0.05)
    assert server.runtime.registry.get("CP1") is new_connection
    assert await online_ids(server) == ["CP1"]
    assert await connected_gauge(server) == 1
    # Commands reach the new socket.
    answer = await server.api.get("/API/Reset/CP1")
    assert answer.json() == {"status": "Accepted"}
    assert [action for action, _ in new.requests] == ["Reset"]
    assert old.requests == []


async def test_the_old_socket_closing_after_a_reconnect_keeps_the_new_one(
    server: RunningServer, cp1: str, raw: ClientConnection
) -> None:
    async with await raw_socket(server) as newer:
        current = server.runtime.registry.get("CP1")
        await raw.close()  # races the server's own close of the replaced socket
        await asyncio.sleep(0.05)
        assert server.runtime.registry.get("CP1") is current
        assert await online_ids(server) == ["CP1"]
        assert await connected_gauge(server) == 1
        assert (await heartbeat(newer))["currentTime"].endswith("Z")
    await until_offline(server)
    assert await connected_gauge(server) == 0


async def test_a_reconnect_while_messages_are_queued_is_clean(
    server: RunningServer, cp1: str, raw: ClientConnection, server_errors: list[logging.LogRecord]
) -> None:
    """Frames still queued on the replaced socket never make the server send after close."""
    for number in range(200):
        await raw.send(json.dumps([2, f"hb{number}", "Heartbeat", {}]))
    async with await raw_socket(server) as newer:
        assert (await heartbeat(newer))["currentTime"].endswith("Z")
        async with asyncio.timeout(5):
            answered = [json.loads(frame)[1] async for frame in raw]  # until the close
        assert raw.close_code == 1000
        # Whatever was answered before the close was answered once, in order.
        assert answered == [f"hb{number}" for number in range(len(answered))]
        assert server.runtime.registry.get("CP1") is not None
    await until_offline(server)
    assert [record.getMessage() for record in server_errors] == []


async def test_a_disconnect_takes_the_charger_offline(
    server: RunningServer, cp1: str, server_errors: list[logging.LogRecord]
) -> None:
    async with await raw_socket(server) as websocket:
        await heartbeat(websocket)
        assert await online_ids(server) == ["CP1"]
    await until_offline(server)
    assert await online_ids(server) == []
    assert await connected_gauge(server) == 0
    assert (await server.api.get("/API/Reset/CP1")).status_code == 404
    assert server_errors == []


async def test_a_command_in_flight_fails_when_the_charger_goes(
    server: RunningServer, cp1: str, raw: ClientConnection
) -> None:
    command = asyncio.create_task(server.api.get("/API/Reset/CP1"))
    async with asyncio.timeout(5):
        call = json.loads(await raw.recv())
    assert call[0] == 2
    assert call[2] == "Reset"
    await raw.close()
    async with asyncio.timeout(2):  # well before the 3 s command timeout
        answer = await command
    assert answer.json() == {"status": "Timeout"}


async def test_a_charger_that_stops_answering_pings_goes_offline(
    server: RunningServer, cp1: str, raw: ClientConnection
) -> None:
    await heartbeat(raw)
    assert await online_ids(server) == ["CP1"]
    assert await connected_gauge(server) == 1
    raw.transport.pause_reading()  # the pings pile up unanswered
    await until_offline(server, within=1.5)  # a ping round and its timeout: 0.4 s
    assert await online_ids(server) == []
    assert await connected_gauge(server) == 0
    raw.transport.resume_reading()
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(5):
            await raw.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1011


async def test_a_charger_that_answers_pings_stays_online(
    server: RunningServer, cp1: str, raw: ClientConnection
) -> None:
    await asyncio.sleep(6 * KEEPALIVE)  # several ping rounds without any OCPP traffic
    assert "CP1" in server.runtime.registry
    assert (await heartbeat(raw))["currentTime"].endswith("Z")


async def test_a_silent_charger_reconnecting_comes_back(
    server: RunningServer, cp1: str, raw: ClientConnection
) -> None:
    raw.transport.pause_reading()
    await until_offline(server)
    raw.transport.resume_reading()
    async with await raw_socket(server) as again:
        assert (await heartbeat(again))["currentTime"].endswith("Z")
        assert await online_ids(server) == ["CP1"]
        assert await connected_gauge(server) == 1
