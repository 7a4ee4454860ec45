"""The paid flow end to end: real HTTP, a real OCPP charger, the Stripe simulator via the SDK."""

from __future__ import annotations

from datetime import timedelta

from ocpp.v16 import call

from builders import NOW, timestamp
from integration.payments.payflow import (
    HOLD,
    checkout_session_id,
    create,
    next_call,
    priced_charger,
    stage_is,
    status,
)
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim, eventually


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
