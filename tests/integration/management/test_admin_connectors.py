"""Connector pages over real HTTP, with the command buttons reaching a real charger."""

from __future__ import annotations

import httpx
from ocpp.v16 import call

from builders import add_charge_point, add_tag, timestamp
from integration.management.admin_helpers import error_of, follow, post_form
from integration.management.pages import ADMIN, VIEWER, RunningManagement, csrf_token, log_in
from ocpp_core.db.models import Connector
from servers import ConnectCharger, RunningServer

PAGE = "/Home/Connector/CP1/1"


async def command(client: httpx.AsyncClient, form: dict[str, str]) -> str:
    return await follow(client, await post_form(client, PAGE, form))


async def test_the_list_shows_live_values(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1", name="Yard")
    await add_charge_point(server.runtime.db, "CP2")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Charging", timestamp=timestamp()))
    sample = {
        "timestamp": timestamp(),
        "sampledValue": [
            {"value": "12345", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
        ],
    }
    await cp.call(call.MeterValues(1, [sample]))
    async with server.runtime.db.session() as session:
        session.add(Connector(charge_point_id="CP2", connector_id=1, status="Available"))
    await log_in(client, *VIEWER)

    html = (await client.get("/Home/Connector")).text

    row = html[html.index('data-connector="CP1/1"') : html.index("</tr>", html.index("CP1/1"))]
    assert 'data-status="Charging"' in row
    assert "7.4 kW" in row
    assert "12.35 kWh" in row
    offline = html[html.index('data-connector="CP2/1"') :]
    assert "Offline" in offline[: offline.index("</tr>")]


async def test_a_refused_start_is_not_the_connectors_transaction(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "TAG1")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    refused = await cp.call(call.StartTransaction(1, "UNKNOWN", 0, timestamp()))
    assert refused.id_tag_info["status"] == "Invalid"
    await log_in(client, *VIEWER)

    html = (await client.get(PAGE)).text

    assert "<dt>Transaction</dt><dd>none</dd>" in html
    assert "UNKNOWN" not in html


async def test_unlock_start_stop_and_limits_reach_the_charger(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "TAG1")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    await log_in(client, *ADMIN)
    assert 'data-pick="/Home/Pick/ChargeTag/Starting"' in (await client.get(PAGE)).text

    unlocked = await command(client, {"action": "unlock"})
    started = await command(client, {"action": "start", "tag": "TAG1"})
    running = await cp.call(call.StartTransaction(1, "TAG1", 1000, timestamp()))
    stopped = await command(client, {"action": "stop"})
    limited = await command(client, {"action": "limit", "limit": "16", "unit": "A"})
    cleared = await command(client, {"action": "clear-limit"})

    actions = [action for action, _ in cp.requests]
    assert actions == [
        "UnlockConnector",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "SetChargingProfile",
        "ClearChargingProfile",
    ]
    requests = dict(cp.requests)
    assert requests["UnlockConnector"] == {"connector_id": 1}
    assert requests["RemoteStartTransaction"]["id_tag"] == "TAG1"
    assert requests["RemoteStopTransaction"] == {"transaction_id": running.transaction_id}
    schedule = requests["SetChargingProfile"]["cs_charging_profiles"]["charging_schedule"]
    assert schedule["charging_rate_unit"] == "A"
    assert schedule["charging_schedule_period"][0]["limit"] == 16
    assert "Unlock: Unlocked." in unlocked
    assert "Start with tag TAG1: Accepted." in started
    assert "Stop: Accepted." in stopped
    assert "Charging limit 16 A: Accepted." in limited
    assert "Clear charging limit: Accepted." in cleared


async def test_refusals_are_shown(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "BLOCKED", blocked=True)
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    await log_in(client, *ADMIN)

    nothing_to_stop = await command(client, {"action": "stop"})
    blocked = await command(client, {"action": "start", "tag": "BLOCKED"})
    bad_limit = await command(client, {"action": "limit", "limit": "lots", "unit": "A"})

    assert "there is no open transaction on that connector" in nothing_to_stop
    assert "Start with tag BLOCKED: Rejected (tag Blocked)." in blocked
    assert "a whole number of amperes" in bad_limit
    assert cp.requests == []


async def test_rename_a_connector(
    server: RunningServer,
    charger: ConnectCharger,
    management: RunningManagement,
    client: httpx.AsyncClient,
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    await log_in(client, *ADMIN)

    renamed = await command(client, {"action": "name", "name": "Left bay"})
    too_long = await post_form(client, PAGE, {"action": "name", "name": "x" * 101})

    assert "Name saved." in renamed
    assert "<h1>Left bay" in renamed
    assert too_long.status_code == 400
    assert "At most 100 characters." in error_of(too_long.text, "name")
    async with management.db.session() as session:
        row = await session.get(Connector, ("CP1", 1))
        assert row is not None
        assert row.name == "Left bay"


async def test_a_viewer_sees_no_buttons_and_can_not_command(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    await log_in(client, *VIEWER)
    page = (await client.get(PAGE)).text

    response = await client.post(PAGE, data={"csrf_token": csrf_token(page), "action": "unlock"})

    assert ">Unlock</button>" not in page
    assert response.status_code == 403
    assert cp.requests == []
