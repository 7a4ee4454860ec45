"""A connector an operator reserved shows reserved on the driver's page, with no way to pay."""

from __future__ import annotations

import html
from datetime import timedelta

import httpx

from builders import add_tag
from integration.management.public_harness import online, price_station
from ocpp_core.clock import format_timestamp, utc_now
from ocpp_core.domain.pricing import Tariff
from servers import ConnectCharger, RunningServer

TARIFF = Tariff(price_kwh_millicents=35_500, session_fee_cents=100, max_energy_wh=20_000)


async def test_a_connector_an_operator_reserved_is_offered_to_no_driver(
    pay_server: RunningServer, pay_charger: ConnectCharger, driver: httpx.AsyncClient
) -> None:
    await price_station(pay_server, "CP1", TARIFF)
    await online(pay_charger, "CP1")  # it reports the connector Available
    await add_tag(pay_server.runtime.db, "OPS")
    body = {
        "chargePointId": "CP1",
        "connectorId": 1,
        "idTag": "OPS",
        "expiryDateTime": format_timestamp(utc_now() + timedelta(hours=1)),
    }
    assert (await pay_server.api.post("/API/ReserveNow", json=body)).status_code == 200

    page = await driver.get("/Public/Start", params={"cp": "CP1", "conn": "1"})

    assert 'data-status="reserved"' in page.text
    assert "Pay and start charging" not in " ".join(html.unescape(page.text).split())
