"""Firmware and log requests in a cluster: sent through another node than the charger's, its
progress stored by the charger's node and read through the other, its log uploaded to one node
and downloaded through the other (the nodes share ``diagnostics.directory``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from ocpp.v201 import call

from cli_harness import provision
from cluster_harness import api, charger201, in_process_node
from ocpp_core.config import DiagnosticsSettings, Settings

pytestmark = [pytest.mark.postgresql]

CP = "CL-FW"


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> str:
    provision(database_url, tmp_path, [CP], [])
    return database_url


async def test_a_charger_on_one_node_is_updated_and_read_through_the_other(
    fleet: str, tmp_path: Path, prefix: str, settings: Settings
) -> None:
    shared = settings.model_copy(
        update={"diagnostics": DiagnosticsSettings(directory=tmp_path / "shared")}
    )
    async with (
        asyncio.timeout(60),
        in_process_node(shared, "a", prefix) as a,
        in_process_node(shared, "b", prefix) as b,
        api(b) as api_b,
        charger201(a.ws_url(CP)) as on_a,
    ):
        update = {"location": "https://fw.example.com/v3.bin"}
        answer = (await api_b.post(f"/API/UpdateFirmware/{CP}", json=update)).json()
        assert answer["status"] == "Accepted"
        await on_a.call(
            call.FirmwareStatusNotification("Installed", request_id=answer["requestId"])
        )
        [request] = (await api_b.get(f"/API/Firmware/{CP}")).json()
        assert (request["requestId"], request["status"]) == (answer["requestId"], "Installed")

        asked = (await api_b.post(f"/API/GetLog/{CP}", json={})).json()
        assert asked["status"] == "Accepted"
        action, log = on_a.requests[-1]
        assert action == "GetLog"
        path = urlsplit(log["log"]["remote_location"]).path
        async with httpx.AsyncClient() as http:
            uploaded = await http.put(f"{a.http_url}{path}", content=b"from the charger")
        assert uploaded.status_code == 200
        file = await api_b.get(f"/API/Diagnostics/{CP}/{asked['requestId']}/file")
        assert (file.status_code, file.content) == (200, b"from the charger")
