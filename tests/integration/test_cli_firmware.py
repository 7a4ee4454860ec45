"""``ocpp-core firmware`` (a campaign is a loop over chargers) and ``diagnostics``: the real
command against a real server, with the ``ocpp`` library's 1.6 and 2.0.1 chargers, their
logs uploaded over real HTTP.

The command runs in a thread (``run_beside_server``): the server serves on the test's loop.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.v16 import call

from builders import add_charge_point
from chargers import TestCharger, TestCharger201
from cli_harness import Env, api_env, drive
from ocpp_core.config import Settings
from servers import ConnectCharger, ConnectCharger201, RunningServer, with_uploads

LOCATION = "https://fw.example.com/v2.bin"
LOG = b"PK\x03\x04 logs"  # 9 bytes


@pytest.fixture
def settings(
    settings: Settings, server_socket: tuple[socket.socket, str], tmp_path: Path
) -> Settings:
    return with_uploads(settings, server_socket, tmp_path)


@pytest.fixture
def env(server: RunningServer) -> Env:
    return api_env(server)


async def next_request(cp: TestCharger | TestCharger201) -> tuple[str, dict[str, Any]]:
    async with asyncio.timeout(2):
        return await cp.received.get()


async def fleet(
    server: RunningServer, charger: ConnectCharger, charger201: ConnectCharger201
) -> tuple[TestCharger, TestCharger201]:
    """CP1 on 1.6 and CP2 on 2.0.1, connected; CP3 known but offline."""
    for charge_point_id in ("CP1", "CP2", "CP3"):
        await add_charge_point(server.runtime.db, charge_point_id)
    return await charger("CP1"), await charger201("CP2")


async def test_a_campaign_over_three_chargers_says_each_outcome_and_fails_for_the_offline_one(
    server: RunningServer,
    charger: ConnectCharger,
    charger201: ConnectCharger201,
    env: Env,
    tmp_path: Path,
) -> None:
    cp1, cp2 = await fleet(server, charger, charger201)
    ids = tmp_path / "fleet.txt"
    ids.write_text("# the depot\nCP2\n\nCP3  # still in the van\nCP1\n")
    out, _ = await drive(
        server,
        env,
        "firmware",
        "update",
        "CP1",
        "--from-file",
        str(ids),
        "--location",
        LOCATION,
        "--retries",
        "3",
        "--retry-interval",
        "60",
        exit_code=1,
    )
    action, request1 = await next_request(cp1)
    assert (action, request1["location"], request1["retries"]) == ("UpdateFirmware", LOCATION, 3)
    action, request2 = await next_request(cp2)
    assert (action, request2["firmware"]["location"]) == ("UpdateFirmware", LOCATION)
    [first] = (await server.api.get("/API/Firmware/CP1")).json()
    assert out.splitlines() == [  # each charger once, in the order given
        f"CP1: Accepted, request {first['requestId']}",
        f"CP2: Accepted, request {request2['request_id']}",
        "CP3: failed: 404 ChargerOffline: chargePointId CP3",
        "2 of 3 chargers accepted",
    ]

    status, _ = await drive(server, env, "firmware", "status", "CP1")
    header, row = status.splitlines()
    assert header.split() == [
        "REQUEST",
        "REQUESTED",
        "LOCATION",
        "ANSWER",
        "STATUS",
        "STATUS",
        "AT",
    ]
    cells = row.split()
    assert (cells[0], cells[2:]) == (str(first["requestId"]), [LOCATION, "Accepted", "-", "-"])
    await cp1.call(call.FirmwareStatusNotification("Downloading"))
    status, _ = await drive(server, env, "firmware", "status", "CP1")
    assert status.splitlines()[1].split()[4] == "Downloading"


async def test_a_campaign_where_every_charger_accepts_exits_zero(
    server: RunningServer, charger: ConnectCharger, charger201: ConnectCharger201, env: Env
) -> None:
    cp1, cp2 = await fleet(server, charger, charger201)
    out, _ = await drive(
        server,
        env,
        "firmware",
        "update",
        "CP1",
        "CP2",
        "CP1",
        "--location",
        LOCATION,
        "--retrieve-at",
        "2026-12-06T02:00:00+01:00",
    )
    assert out.splitlines()[-1] == "2 of 2 chargers accepted"
    _, request1 = await next_request(cp1)
    assert request1["retrieve_date"] == "2026-12-06T01:00:00.000Z"
    _, request2 = await next_request(cp2)
    assert request2["firmware"]["retrieve_date_time"] == "2026-12-06T01:00:00.000Z"


async def test_a_charger_that_refuses_the_firmware_fails_the_run(
    server: RunningServer, charger: ConnectCharger, charger201: ConnectCharger201, env: Env
) -> None:
    _, cp2 = await fleet(server, charger, charger201)
    cp2.answers["UpdateFirmware"] = {"status": "InvalidCertificate"}
    out, _ = await drive(
        server, env, "firmware", "update", "CP2", "--location", LOCATION, exit_code=1
    )
    assert out.startswith("CP2: InvalidCertificate, request ")


async def test_a_campaign_stops_at_once_on_a_wrong_key_and_goes_on_past_bad_input(
    server: RunningServer, charger: ConnectCharger, charger201: ConnectCharger201, env: Env
) -> None:
    await fleet(server, charger, charger201)
    wrong = {**env, "OCPP_CORE_API_KEY": "not-the-servers-key-at-all"}
    out, error = await drive(
        server, wrong, "firmware", "update", "CP1", "CP2", "--location", LOCATION, exit_code=1
    )
    assert out == ""
    assert error.startswith(f"Error: the server at {server.http_url} refused the API key (401)")
    out, _ = await drive(
        server, env, "firmware", "update", "CP1", "CP2", "--location", "nowhere", exit_code=1
    )
    lines = out.splitlines()
    assert [line.split(":", 1)[0] for line in lines[:2]] == ["CP1", "CP2"]
    assert lines[0].startswith("CP1: failed: 400 InvalidParameter: body.location: String should")
    assert lines[2] == "0 of 2 chargers accepted"
    _, error = await drive(server, env, "firmware", "update", "--location", LOCATION, exit_code=2)
    assert "name the charge points, or give --from-file" in error


async def test_diagnostics_are_requested_listed_and_downloaded(
    server: RunningServer,
    charger: ConnectCharger,
    charger201: ConnectCharger201,
    env: Env,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cp1, _ = await fleet(server, charger, charger201)
    out, _ = await drive(
        server,
        env,
        "diagnostics",
        "request",
        "CP1",
        "--since",
        "2026-12-01T00:00:00Z",
        "--until",
        "2026-12-05T00:00:00",
    )
    action, request = await next_request(cp1)
    assert (action, request["start_time"], request["stop_time"]) == (
        "GetDiagnostics",
        "2026-12-01T00:00:00.000Z",
        "2026-12-05T00:00:00.000Z",
    )
    [listed] = (await server.api.get("/API/Diagnostics/CP1")).json()
    request_id = listed["requestId"]
    assert out == f"CP1: Accepted, request {request_id}\n"
    _, error = await drive(
        server, env, "diagnostics", "download", "CP1", str(request_id), exit_code=1
    )
    assert error == f"Error: 404 NoFile: chargePointId CP1; requestId {request_id}\n"

    async with httpx.AsyncClient() as http:
        uploaded = await http.put(f"{request['location']}/diag.zip", content=LOG)
    assert uploaded.status_code == 200
    await cp1.call(call.DiagnosticsStatusNotification("Uploaded"))
    listing, _ = await drive(server, env, "diagnostics", "list", "CP1")
    header, row = listing.splitlines()
    assert header.split() == ["REQUEST", "TYPE", "REQUESTED", "ANSWER", "STATUS", "FILE", "BYTES"]
    cells = row.split()
    assert (cells[:2], cells[3:]) == (
        [str(request_id), "DiagnosticsLog"],
        ["Accepted", "Uploaded", "diag.zip", "9"],
    )

    saved = tmp_path / "saved.zip"
    out, _ = await drive(
        server, env, "diagnostics", "download", "CP1", str(request_id), "-o", str(saved)
    )
    assert (out, saved.read_bytes()) == (f"wrote {saved}: 9 bytes\n", LOG)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)  # without -o: the charger's file name, in this directory
    out, _ = await drive(server, env, "diagnostics", "download", "CP1", str(request_id))
    assert (out, (here / "diag.zip").read_bytes()) == ("wrote diag.zip: 9 bytes\n", LOG)


async def test_a_security_log_is_asked_of_a_2_0_1_charger(
    server: RunningServer, charger: ConnectCharger, charger201: ConnectCharger201, env: Env
) -> None:
    _, cp2 = await fleet(server, charger, charger201)
    out, _ = await drive(
        server,
        env,
        "diagnostics",
        "request",
        "CP2",
        "--type",
        "SecurityLog",
        "--since",
        "-1d",
        "--retries",
        "2",
    )
    action, request = await next_request(cp2)
    assert (action, request["log_type"], request["retries"]) == ("GetLog", "SecurityLog", 2)
    assert request["log"]["oldest_timestamp"].endswith("Z")
    assert out == f"CP2: Accepted, request {request['request_id']}\n"
    _, error = await drive(
        server,
        env,
        "diagnostics",
        "request",
        "CP2",
        "--since",
        "+1d",
        "--until",
        "-1d",
        exit_code=1,
    )
    assert error.startswith("Error: 400 InvalidParameter: ")
    assert "oldestTimestamp is after latestTimestamp" in error
