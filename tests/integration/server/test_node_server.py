"""``ocpp-core server`` stopped with SIGTERM drains first, then closes its chargers with 1001.

While it drains, ``/health`` says 503 ``draining`` and a new charger's handshake
gets an HTTP 503, while the charger it has and the API go on being served; a
second SIGTERM ends the drain at once (the drain here is far longer than the
test's time limit, so only the second signal can end it).
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest
from ocpp.v16 import call
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from cli_harness import provision
from cluster_harness import api, charger16
from servers import API_KEY, ocpp_core_server

SCENARIO_TIMEOUT = 60.0


@pytest.fixture
def provisioned(database_url: str, tmp_path: Path) -> str:
    provision(database_url, tmp_path, ["DRAIN-1", "DRAIN-2"], [])
    return database_url


async def test_sigterm_drains_then_closes_chargers_as_going_away(
    provisioned: str, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        ocpp_core_server(provisioned, log, {"OCPP_CORE_SERVER__DRAIN_SECONDS": "600"}) as server,
        api(server) as client,
        charger16(server.ws_url("DRAIN-1")) as charger,
    ):
        server.process.send_signal(signal.SIGTERM)
        async with httpx.AsyncClient(base_url=server.http_url) as keyless:
            while (health := await keyless.get("/health")).status_code == 200:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert (health.status_code, health.json()["status"]) == (503, "draining")
        assert health.json()["accepting"] is False

        with pytest.raises(InvalidStatus) as refused:
            async with connect(server.ws_url("DRAIN-2"), subprotocols=[Subprotocol("ocpp1.6")]):
                pass
        assert refused.value.response.status_code == 503
        assert refused.value.response.body == b"this node is stopping; connect again\n"

        # What it has is served on: the charger's calls, and commands to it.
        await charger.call(call.Heartbeat())
        answer = await client.get("/API/ClearCache/DRAIN-1")
        assert answer.json() == {"status": "Accepted"}
        keyed = await client.get("/health", headers={"X-API-Key": API_KEY})
        assert keyed.json()["chargers"] == 1

        server.process.send_signal(signal.SIGTERM)  # again: the drain ends at once
        assert await server.process.wait() == 0
        websocket = charger.connection.websocket
        await websocket.wait_closed()
        assert websocket.close_code == 1001
    assert "Traceback" not in log.read_text()
