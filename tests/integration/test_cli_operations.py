"""``ocpp-core reservation``, ``profile`` and ``trigger``, and what every command that drives
a server says when it can't: the real command against a real server, with the ``ocpp``
library's 1.6 and 2.0.1 chargers on real websockets.

The command runs in a thread (``run_beside_server``): the server serves on the test's loop.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from builders import add_charge_point, add_tag
from chargers import TestCharger, TestCharger201
from cli_harness import Env, api_env, drive, run_beside_server
from servers import API_KEY, ConnectCharger, ConnectCharger201, RunningServer, free_port


@pytest.fixture
def env(server: RunningServer) -> Env:
    return api_env(server)


async def next_request(cp: TestCharger | TestCharger201) -> tuple[str, dict[str, Any]]:
    """What the charger was asked; the command ended after its answer, so it is there."""
    async with asyncio.timeout(2):
        return await cp.received.get()


async def connected16(server: RunningServer, charger: ConnectCharger) -> TestCharger:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "ALICE")
    return await charger("CP1")


async def connected201(server: RunningServer, charger201: ConnectCharger201) -> TestCharger201:
    await add_charge_point(server.runtime.db, "CP2")
    await add_tag(server.runtime.db, "ALICE")
    return await charger201("CP2")


# -- reservations --------------------------------------------------------------------


async def test_a_reservation_is_made_listed_and_cancelled(
    server: RunningServer, charger: ConnectCharger, env: Env
) -> None:
    cp = await connected16(server, charger)
    out, _ = await drive(
        server,
        env,
        "reservation",
        "create",
        "CP1",
        "--connector",
        "1",
        "--tag",
        "ALICE",
        "--until",
        "+2h",
    )
    action, request = await next_request(cp)
    assert (action, request["connector_id"], request["id_tag"]) == ("ReserveNow", 1, "ALICE")
    reservation_id = request["reservation_id"]
    assert out.startswith(f"reservation {reservation_id} at CP1 connector 1 for ALICE until ")
    assert out.endswith(": Accepted\n")

    listed, _ = await drive(server, env, "reservation", "list", "CP1", "--active")
    header, row = listed.splitlines()
    assert header.split() == ["ID", "CP", "CONNECTOR", "TAG", "UNTIL", "STATUS", "BY"]
    cells = row.split()
    assert (cells[:4], cells[5:]) == (
        [str(reservation_id), "CP1", "1", "ALICE"],
        ["Accepted", "CLI"],
    )

    out, _ = await drive(server, env, "reservation", "cancel", str(reservation_id))
    assert out == f"reservation {reservation_id} at CP1: Accepted, now Cancelled\n"
    assert await next_request(cp) == ("CancelReservation", {"reservation_id": reservation_id})
    active, _ = await drive(server, env, "reservation", "list", "--active")
    assert active == "no reservations\n"

    # A second one, newest first: a page of one says there is more.
    in_three_hours = datetime.now(UTC) + timedelta(hours=3)  # without a zone: UTC
    args = ["--tag", "ALICE", "--until", in_three_hours.strftime("%Y-%m-%dT%H:%M:%S")]
    out, _ = await drive(server, env, "reservation", "create", "CP1", "--connector", "2", *args)
    _, second = await next_request(cp)
    assert out.startswith(f"reservation {second['reservation_id']} at CP1 connector 2 ")
    assert second["expiry_date"].startswith(in_three_hours.strftime("%Y-%m-%dT%H:%M:%S"))
    first_page, _ = await drive(server, env, "reservation", "list", "CP1", "--limit", "1")
    assert first_page.splitlines()[1].split()[0] == str(second["reservation_id"])
    assert first_page.splitlines()[2] == "1-1 of 2: more with --offset"
    last_page, _ = await drive(server, env, "reservation", "list", "--limit", "1", "--offset", "1")
    assert [line.split()[0] for line in last_page.splitlines()] == ["ID", str(reservation_id)]


async def test_a_reservation_the_charger_refuses_exits_non_zero_with_its_answer(
    server: RunningServer, charger201: ConnectCharger201, env: Env
) -> None:
    cp = await connected201(server, charger201)
    cp.answers["ReserveNow"] = {"status": "Occupied"}
    out, _ = await drive(
        server,
        env,
        "reservation",
        "create",
        "CP2",
        "--connector",
        "1",
        "--tag",
        "ALICE",
        "--until",
        "+30m",
        "--connector-type",
        "cType2",
        exit_code=1,
    )
    assert out.endswith(": Occupied\n")
    action, request = await next_request(cp)
    assert (action, request["connector_type"]) == ("ReserveNow", "cType2")


# -- charging profiles ---------------------------------------------------------------

PROFILE = {
    "connectorId": 1,
    "stackLevel": 2,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Recurring",
    "recurrencyKind": "Daily",
    "chargingRateUnit": "A",
    "startSchedule": "2026-12-01T00:00:00Z",
    "chargingSchedulePeriod": [
        {"startPeriod": 0, "limit": 16},
        {"startPeriod": 25200, "limit": 32.5, "numberPhases": 3},
    ],
}


async def test_a_profile_is_set_listed_and_cleared(
    server: RunningServer, charger201: ConnectCharger201, env: Env, tmp_path: Path
) -> None:
    cp = await connected201(server, charger201)
    file = tmp_path / "profile.json"
    file.write_text(json.dumps({**PROFILE, "chargingProfileId": 41}))
    out, _ = await drive(server, env, "profile", "set", "CP2", "--file", str(file))
    assert out == "CP2 profile 41: Accepted\n"
    action, request = await next_request(cp)
    assert (action, request["evse_id"], request["charging_profile"]["id"]) == (
        "SetChargingProfile",
        1,
        41,
    )

    listed, _ = await drive(server, env, "profile", "list", "CP2")
    cells = listed.splitlines()[1].split()
    assert cells[:5] == ["41", "1", "TxDefaultProfile", "2", "Recurring"]
    assert cells[5:] == ["0s", "16A,", "25200s", "32.5A", "accepted"]

    out, _ = await drive(server, env, "profile", "clear", "CP2", "--id", "41")
    assert out == "CP2 profile 41: Accepted\n"
    assert await next_request(cp) == ("ClearChargingProfile", {"charging_profile_id": 41})
    listed, _ = await drive(server, env, "profile", "list", "CP2")
    assert listed.splitlines()[1].split()[-1] == "cleared"


async def test_a_profile_file_that_is_no_json_object_is_refused_before_asking(
    server: RunningServer, env: Env, tmp_path: Path
) -> None:
    file = tmp_path / "profile.json"
    file.write_text("{not json")
    _, error = await drive(server, env, "profile", "set", "CP2", "--file", str(file), exit_code=2)
    assert "is not JSON" in error
    file.write_text("[1, 2]")
    _, error = await drive(server, env, "profile", "set", "CP2", "--file", str(file), exit_code=2)
    assert "holds no JSON object" in error


async def test_a_profile_the_api_refuses_is_its_400_in_one_line(
    server: RunningServer, charger201: ConnectCharger201, env: Env, tmp_path: Path
) -> None:
    await connected201(server, charger201)
    file = tmp_path / "profile.json"
    file.write_text(json.dumps({**PROFILE, "recurrencyKind": None}))
    _, error = await drive(server, env, "profile", "set", "CP2", "--file", str(file), exit_code=1)
    assert error.startswith("Error: 400 InvalidProfile: ")
    assert error.count("\n") == 1


# -- TriggerMessage ------------------------------------------------------------------


async def test_a_message_is_triggered_and_a_refusal_exits_non_zero(
    server: RunningServer, charger: ConnectCharger, env: Env
) -> None:
    cp = await connected16(server, charger)
    out, _ = await drive(server, env, "trigger", "CP1", "StatusNotification", "--connector", "1")
    assert out == "CP1 StatusNotification: Accepted\n"
    assert await next_request(cp) == (
        "TriggerMessage",
        {"requested_message": "StatusNotification", "connector_id": 1},
    )
    cp.answers["TriggerMessage"] = {"status": "Rejected"}
    out, _ = await drive(server, env, "trigger", "CP1", "Heartbeat", exit_code=1)
    assert out == "CP1 Heartbeat: Rejected\n"


# -- what goes wrong, each in one line -----------------------------------------------


async def test_an_unreachable_server_is_named_with_how_to_change_it(env: Env) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = await run_beside_server(["trigger", "CP1", "Heartbeat", "--url", url], env, exit_code=1)
    assert done.stderr.startswith(f"Error: cannot reach the server at {url} (")
    assert done.stderr.endswith(
        "is `ocpp-core server` running there? Give its address with --url\n"
    )


async def test_the_address_defaults_to_the_settings_server_and_a_bad_one_is_refused(
    server: RunningServer, charger: ConnectCharger, env: Env
) -> None:
    await connected16(server, charger)
    # The server listens on every address; the command reaches it on the loopback.
    everywhere = "0.0.0.0"  # noqa: S104 -- a setting read, not bound
    settings_env = {**env, "OCPP_CORE_HOST": everywhere, "OCPP_CORE_PORT": str(server.port)}
    done = await run_beside_server(["trigger", "CP1", "Heartbeat"], settings_env)
    assert done.stdout == "CP1 Heartbeat: Accepted\n"
    done = await run_beside_server(
        ["trigger", "CP1", "Heartbeat", "--url", "localhost:8081"], env, exit_code=2
    )
    assert "give the server's address as http://HOST:PORT" in done.stderr


async def test_a_wrong_key_is_a_401_and_neither_key_is_printed(
    server: RunningServer, env: Env
) -> None:
    wrong = {**env, "OCPP_CORE_API_KEY": "not-the-servers-key-at-all"}
    done = await run_beside_server(
        ["reservation", "list", "--url", server.http_url], wrong, exit_code=1
    )
    assert done.stderr == (
        f"Error: the server at {server.http_url} refused the API key (401): set "
        "OCPP_CORE_API_KEY (api_key in the config file) to the server's key\n"
    )
    assert "not-the-servers-key" not in done.output
    assert API_KEY not in done.output


async def test_no_key_is_said_before_asking(server: RunningServer, env: Env) -> None:
    keyless = {**env, "OCPP_CORE_API_KEY": None}
    _, error = await drive(server, keyless, "reservation", "list", exit_code=1)
    assert error.startswith("Error: no API key: set OCPP_CORE_API_KEY")


async def test_an_unknown_or_offline_charger_is_the_apis_own_message(
    server: RunningServer, env: Env
) -> None:
    await add_charge_point(server.runtime.db, "CP-ASLEEP")
    await add_tag(server.runtime.db, "ALICE")
    _, error = await drive(server, env, "trigger", "CP-ASLEEP", "Heartbeat", exit_code=1)
    assert error == "Error: 404 ChargerOffline: chargePointId CP-ASLEEP\n"
    _, error = await drive(
        server,
        env,
        "reservation",
        "create",
        "CP-NONE",
        "--connector",
        "1",
        "--tag",
        "ALICE",
        "--until",
        "+1h",
        exit_code=1,
    )
    assert error == "Error: 404 UnknownChargePoint: chargePointId CP-NONE\n"
    _, error = await drive(server, env, "reservation", "cancel", "999", exit_code=1)
    assert error == "Error: 404 NoReservation: reservationId 999\n"


async def test_bad_input_is_the_apis_400_in_one_line_or_refused_before_asking(
    server: RunningServer, charger: ConnectCharger, env: Env
) -> None:
    await connected16(server, charger)
    _, error = await drive(
        server,
        env,
        "reservation",
        "create",
        "CP1",
        "--connector",
        "1",
        "--tag",
        "ALICE",
        "--until",
        "+8d",
        exit_code=1,
    )
    assert error == "Error: 400 InvalidExpiry: expiryDateTime must be within 7 days from now\n"
    _, error = await drive(server, env, "trigger", "CP1", "Coffee", exit_code=1)
    assert error.startswith("Error: 400 InvalidMessage: message must be one of ")
    assert error.count("\n") == 1
    _, error = await drive(
        server,
        env,
        "reservation",
        "create",
        "CP1",
        "--connector",
        "1",
        "--tag",
        "ALICE",
        "--until",
        "tomorrow",
        exit_code=2,
    )
    assert "'tomorrow': give 2026-12-06T14:00:00Z, or +2h / -1d from now" in error
