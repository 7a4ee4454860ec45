"""The virtual chargers, 1.6 and 2.0.1, on the real server: a firmware update reported step by
step, and diagnostics/logs really uploaded over HTTP to the server's upload endpoint.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from builders import add_charge_point
from ocpp_core.config import Settings
from ocpp_core.simulators.chargepoint import ChargerSettings, VirtualCharger
from servers import RunningServer, with_uploads
from stripe_harness import eventually

FLEET = {"FW-16": "ocpp1.6", "FW-201": "ocpp2.0.1"}
STEPS = {
    "FW-16": ["Downloading", "Downloaded", "Installing", "Installed"],
    "FW-201": ["DownloadScheduled", "Downloading", "Downloaded", "Installing", "Installed"],
}


@pytest.fixture
def settings(
    settings: Settings, server_socket: tuple[socket.socket, str], tmp_path: Path
) -> Settings:
    return with_uploads(settings, server_socket, tmp_path)


@pytest.fixture
async def fleet(server: RunningServer) -> AsyncIterator[dict[str, VirtualCharger]]:
    for charge_point_id in FLEET:
        await add_charge_point(server.runtime.db, charge_point_id)
    async with AsyncExitStack() as stack:
        chargers = {}
        for charge_point_id, protocol in FLEET.items():
            settings = ChargerSettings(
                url=server.ws_url, charger_id=charge_point_id, protocol=protocol
            )
            chargers[charge_point_id] = await stack.enter_async_context(VirtualCharger(settings))
        async with asyncio.timeout(10):
            for charger in chargers.values():
                await charger.booted.wait()
        yield chargers


async def newest(server: RunningServer, what: str, charge_point_id: str) -> dict[str, Any]:
    listed: list[dict[str, Any]] = (await server.api.get(f"/API/{what}/{charge_point_id}")).json()
    return listed[0]


async def status_of(server: RunningServer, what: str, charge_point_id: str) -> str | None:
    status: str | None = (await newest(server, what, charge_point_id))["status"]
    return status


@pytest.mark.parametrize("charge_point_id", list(FLEET))
async def test_the_simulator_reports_each_step_of_a_firmware_update(
    server: RunningServer, fleet: dict[str, VirtualCharger], charge_point_id: str
) -> None:
    body = {"location": f"{server.http_url}/health"}  # something to download
    answer = (await server.api.post(f"/API/UpdateFirmware/{charge_point_id}", json=body)).json()
    assert answer["status"] == "Accepted"

    async def installed() -> bool:
        return await status_of(server, "Firmware", charge_point_id) == "Installed"

    await eventually(installed)
    request = await newest(server, "Firmware", charge_point_id)
    assert [step["status"] for step in request["history"]] == STEPS[charge_point_id]
    triggered = await server.api.post(
        f"/API/TriggerMessage/{charge_point_id}", json={"message": "FirmwareStatusNotification"}
    )
    assert triggered.json() == {"status": "Accepted"}


@pytest.mark.parametrize("charge_point_id", list(FLEET))
async def test_a_download_that_fails_is_reported(
    server: RunningServer, fleet: dict[str, VirtualCharger], charge_point_id: str
) -> None:
    body = {"location": f"{server.http_url}/no-such-firmware.bin"}
    await server.api.post(f"/API/UpdateFirmware/{charge_point_id}", json=body)

    async def failed() -> bool:
        return await status_of(server, "Firmware", charge_point_id) == "DownloadFailed"

    await eventually(failed)


@pytest.mark.parametrize("charge_point_id", list(FLEET))
async def test_the_simulator_uploads_its_diagnostics(
    server: RunningServer, fleet: dict[str, VirtualCharger], charge_point_id: str
) -> None:
    answer = (await server.api.post(f"/API/GetDiagnostics/{charge_point_id}", json={})).json()
    assert answer["status"] == "Accepted"

    async def uploaded() -> bool:
        return await status_of(server, "Diagnostics", charge_point_id) == "Uploaded"

    await eventually(uploaded)
    request = await newest(server, "Diagnostics", charge_point_id)
    assert [step["status"] for step in request["history"]] == ["Uploading", "Uploaded"]
    assert request["fileName"].startswith(charge_point_id)
    file = await server.api.get(f"/API/Diagnostics/{charge_point_id}/{answer['requestId']}/file")
    assert file.content.startswith(f"{charge_point_id} diagnostics".encode())
    assert len(file.content) == request["sizeBytes"]
