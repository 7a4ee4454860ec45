"""The firmware and logs page over real HTTP: its commands reach real 1.6 and 2.0.1 chargers,
and a log the charger uploaded is downloaded through it."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call

from builders import add_charge_point
from chargers import TestCharger, TestCharger201
from integration.management.admin_helpers import follow, post_form
from integration.management.pages import ADMIN, VIEWER, csrf_token, log_in
from ocpp_core.config import Settings
from servers import ConnectCharger, ConnectCharger201, RunningServer, with_uploads

PAGE = "/Home/ChargePoint/{}/Firmware"


@pytest.fixture
def settings(
    settings: Settings, server_socket: tuple[socket.socket, str], tmp_path: Path
) -> Settings:
    return with_uploads(settings, server_socket, tmp_path)


async def connected16(server: RunningServer, charger: ConnectCharger) -> TestCharger:
    await add_charge_point(server.runtime.db, "CP1")
    return await charger("CP1")


async def connected201(server: RunningServer, charger201: ConnectCharger201) -> TestCharger201:
    await add_charge_point(server.runtime.db, "CP2")
    return await charger201("CP2")


async def command(client: httpx.AsyncClient, cp_id: str, form: dict[str, str]) -> str:
    return await follow(client, await post_form(client, PAGE.format(cp_id), form))


def flash_of(html: str) -> str:
    start = html.index(">", html.index('id="flash"')) + 1
    return html[start : html.index("</p>", start)]


async def test_an_admin_updates_a_1_6_chargers_firmware_and_follows_it(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    cp = await connected16(server, charger)
    await log_in(client, *ADMIN)
    assert (
        'href="/Home/ChargePoint/CP1/Firmware"' in (await client.get("/Home/ChargePoint/CP1")).text
    )
    assert 'id="no-updates"' in (await client.get(PAGE.format("CP1"))).text

    form = {"action": "update", "location": "https://fw.example.com/2.1.bin"}
    sent = await command(client, "CP1", form | {"retrieve_date": "2026-12-06T02:30"})

    assert flash_of(sent) == "Firmware update: Accepted."
    [(action, request)] = cp.requests
    assert (action, request["retrieve_date"]) == ("UpdateFirmware", "2026-12-06T02:30:00.000Z")
    await cp.call(call16.FirmwareStatusNotification("Downloading"))
    shown = (await client.get(PAGE.format("CP1"))).text
    assert "https://fw.example.com/2.1.bin" in shown
    assert "Downloading <small" in shown


async def test_an_admin_gets_a_2_0_1_log_and_downloads_it(
    server: RunningServer, charger201: ConnectCharger201, client: httpx.AsyncClient
) -> None:
    cp = await connected201(server, charger201)
    await log_in(client, *ADMIN)

    sent = await command(client, "CP2", {"action": "log", "log_type": "SecurityLog"})

    assert flash_of(sent) == "Log upload: Accepted."
    [(action, request)] = cp.requests
    assert (action, request["log_type"]) == ("GetLog", "SecurityLog")
    async with httpx.AsyncClient() as http:
        files = {"file": ("security.log", b"event 1\n")}
        assert (await http.post(request["log"]["remote_location"], files=files)).status_code == 200
    await cp.call(call.LogStatusNotification("Uploaded", request_id=request["request_id"]))
    shown = (await client.get(PAGE.format("CP2"))).text
    link = f"/Home/ChargePoint/CP2/Logs/{request['request_id']}"
    assert f'href="{link}"' in shown
    file = await client.get(link)
    assert (file.status_code, file.content) == (200, b"event 1\n")
    assert 'filename="security.log"' in file.headers["content-disposition"]


async def test_an_incomplete_form_sends_nothing(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    cp = await connected16(server, charger)
    await log_in(client, *ADMIN)

    no_location = await command(client, "CP1", {"action": "update"})
    bad_time = await command(
        client,
        "CP1",
        {"action": "update", "location": "https://x.example.com/a"} | {"retrieve_date": "tomorrow"},
    )
    refused = await command(client, "CP1", {"action": "update", "location": "not a url"})

    assert flash_of(no_location) == "Enter the firmware&#39;s location (a URL)."
    assert flash_of(bad_time) == "The download time is not a date and time."
    assert flash_of(refused).startswith("Firmware update: InvalidParameter (")
    assert cp.requests == []


async def test_a_viewer_sees_the_lists_but_can_not_command(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    cp = await connected16(server, charger)
    await log_in(client, *VIEWER)
    page = (await client.get(PAGE.format("CP1"))).text

    forged = await client.post(
        PAGE.format("CP1"),
        data={
            "csrf_token": csrf_token(page),
            "action": "update",
            "location": "https://x.example.com/a",
        },
    )

    assert "Send firmware update" not in page
    assert forged.status_code == 403
    assert cp.requests == []


async def test_unknown_chargers_and_missing_files_are_404(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await connected16(server, charger)
    await log_in(client, *ADMIN)
    assert (await client.get(PAGE.format("NOPE"))).status_code == 404
    assert (await client.get("/Home/ChargePoint/CP1/Logs/12345")).status_code == 404
