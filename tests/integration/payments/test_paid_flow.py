"""The paid flow end to end: real HTTP, a real OCPP charger, the Stripe simulator via the SDK."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from ocpp.v16 import call

from builders import NOW, add_charge_point, timestamp
from chargers import TestCharger
from ocpp_core.domain import tariffs
from ocpp_core.domain.pricing import Tariff
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim, eventually

# 0.40 EUR/kWh up to 20 kWh, 1.00 EUR per session: a hold of 8.00 + 1.00.
TARIFF = Tariff(price_kwh_millicents=40_000, session_fee_cents=100, max_energy_wh=20_000)
HOLD = 900


async def priced_charger(
    server: RunningServer, charger: ConnectCharger, tariff: Tariff = TARIFF
) -> TestCharger:
    await add_charge_point(server.runtime.db, "CP1")
    async with server.runtime.db.session() as session:
        await tariffs.set_tariff(session, "CP1", tariff)
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    return cp


async def create(server: RunningServer, tag: str = "WEB-DRIVER") -> dict[str, Any]:
    body = {"chargePointId": "CP1", "connectorId": 1, "chargeTagId": tag}
    response = await server.api.post("/API/Payments/Create", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def status(server: RunningServer, reservation_id: str) -> dict[str, Any]:
    response = await server.api.get(
        "/API/Payments/Status", params={"reservationId": reservation_id}
    )
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def stage_is(server: RunningServer, reservation_id: str, stage: str) -> None:
    async def reached() -> bool:
        return bool((await status(server, reservation_id))["sessionStage"] == stage)

    await eventually(reached)


async def next_call(cp: TestCharger, action: str) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while True:
            received, request = await cp.received.get()
            if received == action:
                return request


def checkout_session_id(checkout_url: str) -> str:
    return checkout_url.rsplit("/", 1)[1]  # the simulator's hosted page is /checkout/{id}


async def test_a_paid_session_captures_exactly_what_was_delivered(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger)
    created = await create(server)
    assert created["status"] == "Redirect"
    assert (created["maxAmountCents"], created["currency"]) == (HOLD, "eur")
    reservation_id = created["reservationId"]

    paid = await stripe_sim.pay(created["checkoutUrl"])
    assert paid.status_code == 303
    await stage_is(server, reservation_id, "awaitingPlug")  # the webhook authorized it

    await cp.call(call.StatusNotification(1, "NoError", "Preparing", timestamp=timestamp()))
    start = await next_call(cp, "RemoteStartTransaction")
    id_tag = start["id_tag"]
    assert len(id_tag) <= 20
    started = await cp.call(call.StartTransaction(1, id_tag, 1_000, timestamp()))
    assert started.id_tag_info["status"] == "Accepted"
    await stage_is(server, reservation_id, "charging")

    stop = await server.api.post("/API/Payments/Stop", json={"reservationId": reservation_id})
    assert stop.json()["status"] == "Accepted"
    remote_stop = await next_call(cp, "RemoteStopTransaction")
    assert remote_stop["transaction_id"] == started.transaction_id
    await cp.call(
        call.StopTransaction(
            meter_stop=13_500,
            timestamp=timestamp(NOW + timedelta(hours=1)),
            transaction_id=started.transaction_id,
            reason="Remote",
            id_tag=id_tag,
        )
    )

    await stage_is(server, reservation_id, "done")
    view = await status(server, reservation_id)

    async def captured() -> bool:
        return bool((await status(server, reservation_id))["receipt"]["moneyState"] == "Captured")

    await eventually(captured)
    receipt = (await status(server, reservation_id))["receipt"]
    # 12.5 kWh x 0.40 EUR = 5.00 EUR, plus the 1.00 EUR session fee.
    assert view["energyWh"] == 12_500
    assert (receipt["capturedCents"], receipt["releasedCents"]) == (600, HOLD - 600)
    intent = await stripe_sim.intent_of(checkout_session_id(created["checkoutUrl"]))
    assert (intent.status, intent.amount_received, intent.amount) == ("succeeded", 600, HOLD)
