"""The paid flow on an OCPP 2.0.1 charger: the same money, started and settled in 2.0.1 terms."""

from __future__ import annotations

from datetime import timedelta

from builders import NOW
from events201 import energy, status, transaction_event
from integration.payments.payflow import (
    HOLD,
    TARIFF,
    checkout_session_id,
    create_answer,
    next_call,
    price_station,
    reservation,
    settled,
    stage_is,
)
from ocpp_core.domain import transactions
from ocpp_core.domain.transactions import TransactionStart
from servers import ConnectCharger201, RunningServer
from stripe_harness import StripeSim


async def test_a_paid_201_session_captures_exactly_what_was_delivered(
    server: RunningServer, charger201: ConnectCharger201, stripe_sim: StripeSim
) -> None:
    await price_station(server, TARIFF, "CP2")
    cp = await charger201("CP2")
    await status(cp, 1, 1, "Available", NOW)
    created = (await create_answer(server, cp_id="CP2")).json()
    assert created["status"] == "Redirect", created
    reservation_id = created["reservationId"]
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
    await stage_is(server, reservation_id, "awaitingPlug")

    await status(cp, 1, 1, "Occupied", NOW)  # plugged in: the start goes out
    start = await next_call(cp, "RequestStartTransaction")
    token = start["id_token"]
    assert token["type"] == "ISO14443"
    assert len(token["id_token"]) <= 20
    assert start["evse_id"] == 1
    remote_start_id = start["remote_start_id"]
    assert (await reservation(server, reservation_id)).remote_start_id == remote_start_id

    began = await transaction_event(
        cp,
        "Started",
        "tx-paid",
        0,
        NOW,
        trigger="RemoteStart",
        evse=1,
        tag=token["id_token"],
        meter=[energy(1_000, NOW, "Transaction.Begin")],
        remote_start_id=remote_start_id,
        charging_state="Charging",
    )
    assert began.id_token_info["status"] == "Accepted"
    await stage_is(server, reservation_id, "charging")
    await transaction_event(
        cp,
        "Updated",
        "tx-paid",
        1,
        NOW + timedelta(minutes=30),
        trigger="MeterValuePeriodic",
        meter=[energy(7_000, NOW + timedelta(minutes=30))],
    )

    stop = await server.api.post("/API/Payments/Stop", json={"reservationId": reservation_id})
    assert stop.json()["status"] == "Accepted"
    assert (await next_call(cp, "RequestStopTransaction")) == {"transaction_id": "tx-paid"}
    await transaction_event(
        cp,
        "Ended",
        "tx-paid",
        2,
        NOW + timedelta(hours=1),
        trigger="RemoteStop",
        meter=[energy(13_500, NOW + timedelta(hours=1), "Transaction.End")],
        stopped_reason="Remote",
    )
    await status(cp, 1, 1, "Available", NOW + timedelta(hours=1, minutes=1))

    receipt = await settled(server, reservation_id, "Captured")
    # 12.5 kWh x 0.40 EUR = 5.00 EUR, plus the 1.00 EUR session fee.
    assert (receipt["capturedCents"], receipt["releasedCents"]) == (600, HOLD - 600)
    intent = await stripe_sim.intent_of(checkout_session_id(created["checkoutUrl"]))
    assert (intent.status, intent.amount_received, intent.amount) == ("succeeded", 600, HOLD)
    assert intent.amount_capturable == 0


async def test_a_resent_started_event_that_the_payments_missed_starts_the_paid_session(
    server: RunningServer, charger201: ConnectCharger201, stripe_sim: StripeSim
) -> None:
    """As in 1.6: the first Started event was stored, the payments never heard of it
    (the database went away), the charger got an error and resends it."""
    await price_station(server, TARIFF, "CP2")
    cp = await charger201("CP2")
    await status(cp, 1, 1, "Available", NOW)
    created = (await create_answer(server, cp_id="CP2")).json()
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
    await stage_is(server, created["reservationId"], "awaitingPlug")
    await status(cp, 1, 1, "Occupied", NOW)
    start = await next_call(cp, "RequestStartTransaction")
    tag, remote_start_id = start["id_token"]["id_token"], start["remote_start_id"]
    first = TransactionStart("CP2", 1, tag, NOW, 1_000, "tx-resent", 0, remote_start_id)
    async with server.runtime.db.session() as session:
        stored = await transactions.start(session, first, result="Accepted")

    began = await transaction_event(
        cp,
        "Started",
        "tx-resent",
        0,
        NOW,
        trigger="RemoteStart",
        evse=1,
        tag=tag,
        meter=[energy(1_000, NOW, "Transaction.Begin")],
        remote_start_id=remote_start_id,
        charging_state="Charging",
    )
    assert began.id_token_info["status"] == "Accepted"
    await stage_is(server, created["reservationId"], "charging")
    assert (await reservation(server, created["reservationId"])).transaction_id == stored.id
