"""The device-model page over real HTTP, its commands reaching a real OCPP 2.0.1 charger."""

from __future__ import annotations

import httpx
from ocpp.v16 import call as call16
from ocpp.v201 import call

from builders import add_charge_point, timestamp
from chargers import TestCharger201
from integration.management.admin_helpers import follow, post_form
from integration.management.pages import ADMIN, VIEWER, csrf_token, log_in
from servers import ConnectCharger, ConnectCharger201, RunningServer

EDIT = "/Home/ChargePoint/CP2"
PAGE = f"{EDIT}/DeviceModel"
STATION = {"vendor_name": "ACME", "model": "Wallbox 22"}
HEARTBEAT = {
    "component": {"name": "OCPPCommCtrlr"},
    "variable": {"name": "HeartbeatInterval"},
    "variable_attribute": [{"value": "300", "mutability": "ReadWrite"}],
    "variable_characteristics": {"unit": "s", "data_type": "integer", "supports_monitoring": False},
}
PLUG = {
    "component": {"name": "Connector", "evse": {"id": 1, "connector_id": 2}, "instance": "left"},
    "variable": {"name": "ConnectorType"},
    "variable_attribute": [{"value": "cType2", "mutability": "ReadOnly"}],
}


async def booted(server: RunningServer, charger201: ConnectCharger201) -> TestCharger201:
    """A 2.0.1 charger that has booted, so the database knows the protocol it speaks."""
    await add_charge_point(server.runtime.db, "CP2")
    cp = await charger201("CP2")
    await cp.call(call.BootNotification(STATION, "PowerUp"))
    return cp


async def command(client: httpx.AsyncClient, form: dict[str, str]) -> str:
    return await follow(client, await post_form(client, PAGE, form))


def flash_of(html: str) -> str:
    start = html.index(">", html.index('id="flash"')) + 1
    return html[start : html.index("</p>", start)]


async def test_an_admin_requests_a_base_report_and_reads_it(
    server: RunningServer, charger201: ConnectCharger201, client: httpx.AsyncClient
) -> None:
    cp = await booted(server, charger201)
    await log_in(client, *ADMIN)
    assert f'href="{PAGE}"' in (await client.get(EDIT)).text
    assert 'id="no-report"' in (await client.get(PAGE)).text

    requested = await command(client, {"action": "report", "report": "ConfigurationInventory"})

    assert flash_of(requested).startswith("Base report ConfigurationInventory: Accepted.")
    [(action, request)] = cp.requests
    assert (action, request["report_base"]) == ("GetBaseReport", "ConfigurationInventory")
    for seq_no, tbc, entry in ((0, True, HEARTBEAT), (1, False, PLUG)):
        await cp.call(call.NotifyReport(request["request_id"], timestamp(), seq_no, [entry], tbc))
    shown = (await client.get(PAGE)).text
    assert 'id="no-report"' not in shown
    assert "<td>OCPPCommCtrlr</td>" in shown
    row = shown[shown.index("<td>Connector</td>") : shown.index("</tr>", shown.index("cType2"))]
    cells = [cell.split("<", 1)[0] for cell in row.split(">")[1::2]]
    assert cells == [
        "Connector",
        "left",
        "1/2",
        "ConnectorType",
        "Actual",
        "cType2",
        "ReadOnly",
        "",
    ]
    assert "<td>s</td>" in shown
    assert "<time datetime=" in shown[shown.index('id="report-info"') :]
    assert "have not arrived" not in shown


async def test_get_and_set_a_variable_reach_the_charger(
    server: RunningServer, charger201: ConnectCharger201, client: httpx.AsyncClient
) -> None:
    cp = await booted(server, charger201)
    await log_in(client, *ADMIN)
    wanted = {"component": "Connector", "variable": "AvailabilityState", "evse": "1"}
    cp.answers["SetVariables"] = {
        "set_variable_result": [
            {
                "attribute_status": "RebootRequired",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            }
        ]
    }

    got = await command(client, {"action": "get", **wanted, "connector": "2"})
    set_ = await command(
        client,
        {"action": "set", "component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"}
        | {"value": "60"},
    )

    assert flash_of(got) == "Get Connector.AvailabilityState: 300"
    assert 'value="AvailabilityState"' in got  # the form comes back filled in
    assert flash_of(set_) == "Set OCPPCommCtrlr.HeartbeatInterval to 60: RebootRequired."
    assert [action for action, _ in cp.requests] == ["GetVariables", "SetVariables"]
    requests = dict(cp.requests)
    [read] = requests["GetVariables"]["get_variable_data"]
    assert read["component"] == {"name": "Connector", "evse": {"id": 1, "connector_id": 2}}
    [written] = requests["SetVariables"]["set_variable_data"]
    assert (written["variable"]["name"], written["attribute_value"]) == ("HeartbeatInterval", "60")


async def test_an_incomplete_form_sends_nothing(
    server: RunningServer, charger201: ConnectCharger201, client: httpx.AsyncClient
) -> None:
    cp = await booted(server, charger201)
    await log_in(client, *ADMIN)

    unnamed = await command(client, {"action": "get", "component": "OCPPCommCtrlr"})
    no_value = await command(client, {"action": "set", "component": "A", "variable": "B"})
    no_evse = await command(
        client, {"action": "get", "component": "A", "variable": "B", "connector": "1"}
    )

    assert flash_of(unnamed) == "Name the component and the variable."
    assert flash_of(no_value) == "Set: enter the new value."
    assert flash_of(no_evse) == "A connector needs its EVSE."
    assert cp.requests == []


async def test_a_viewer_sees_the_report_but_can_not_command(
    server: RunningServer, charger201: ConnectCharger201, client: httpx.AsyncClient
) -> None:
    cp = await booted(server, charger201)
    await cp.call(call.NotifyReport(7, timestamp(), 0, [HEARTBEAT]))
    await log_in(client, *VIEWER)
    page = (await client.get(PAGE)).text

    forged = [
        await client.post(PAGE, data={"csrf_token": csrf_token(page), **form})
        for form in (
            {"action": "report", "report": "FullInventory"},
            {"action": "get", "component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"},
        )
    ]

    assert "<td>OCPPCommCtrlr</td>" in page
    assert "Request base report" not in page
    assert 'id="variable-form"' not in page
    assert [response.status_code for response in forged] == [403, 403]
    assert cp.requests == []


async def test_a_1_6_charger_has_no_device_model(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await cp.call(call16.BootNotification("Wallbox 22", "ACME"))
    await log_in(client, *ADMIN)

    edit = (await client.get("/Home/ChargePoint/CP1")).text
    page = await client.get("/Home/ChargePoint/CP1/DeviceModel")

    assert "DeviceModel" not in edit
    assert page.status_code == 404
