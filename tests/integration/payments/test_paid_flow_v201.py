"""The paid flow on an OCPP 2.0.1 charger: the same money, started and settled in 2.0.1 terms."""

from __future__ import annotations

from datetime import timedelta

import pytest

from builders import NOW
from chargers import TestCharger201
from events201 import energy, status, transaction_event
from integration.payments.payflow import (
    HOLD,
    TARIFF,
    calls,
    checkout_session_id,
    create_answer,
    next_call,
    payments_of,
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


async def paid_and_started_without_a_register(
    server: RunningServer, cp: TestCharger201, stripe_sim: StripeSim
) -> str:
    """A paid session whose Started event carries no meter value (2.0.1 allows it)."""
    await status(cp, 1, 1, "Available", NOW)
    created = (await create_answer(server, cp_id="CP2")).json()
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
    reservation_id: str = created["reservationId"]
    await stage_is(server, reservation_id, "awaitingPlug")
    await status(cp, 1, 1, "Occupied", NOW)
    start = await next_call(cp, "RequestStartTransaction")
    await transaction_event(
        cp,
        "Started",
        "tx-late-meter",
        0,
        NOW,
        trigger="RemoteStart",
        evse=1,
        tag=start["id_token"]["id_token"],
        remote_start_id=start["remote_start_id"],
        charging_state="Charging",
    )
    await stage_is(server, reservation_id, "charging")
    return reservation_id


async def meter_event(
    cp: TestCharger201, seq_no: int, wh: int, at: timedelta, context: str = "Sample.Periodic"
) -> None:
    await transaction_event(
        cp,
        "Updated",
        "tx-late-meter",
        seq_no,
        NOW + at,
        trigger="MeterValuePeriodic",
        meter=[energy(wh, NOW + at, context)],
    )


async def test_a_paid_201_session_without_a_start_register_bills_from_its_first_register(
    server: RunningServer, charger201: ConnectCharger201, stripe_sim: StripeSim
) -> None:
    await price_station(server, TARIFF, "CP2")
    cp = await charger201("CP2")
    reservation_id = await paid_and_started_without_a_register(server, cp, stripe_sim)
    await meter_event(cp, 1, 200_000, timedelta(0), context="Transaction.Begin")
    await meter_event(cp, 2, 205_000, timedelta(minutes=30))
    assert (await stage_is(server, reservation_id, "charging"))["energyWh"] == 5_000
    await transaction_event(
        cp,
        "Ended",
        "tx-late-meter",
        3,
        NOW + timedelta(hours=1),
        trigger="EVCommunicationLost",
        meter=[energy(210_000, NOW + timedelta(hours=1), "Transaction.End")],
        stopped_reason="EVDisconnected",
    )
    await status(cp, 1, 1, "Available", NOW + timedelta(hours=1, minutes=1))

    receipt = await settled(server, reservation_id, "Captured")
    # 10 kWh x 0.40 EUR = 4.00 EUR, plus the 1.00 EUR session fee.
    assert (receipt["energyWh"], receipt["capturedCents"]) == (10_000, 500)


async def test_the_energy_cap_stops_a_201_session_that_started_without_a_register(
    server: RunningServer, charger201: ConnectCharger201, stripe_sim: StripeSim
) -> None:
    await price_station(server, TARIFF, "CP2")  # at most 20 kWh
    cp = await charger201("CP2")
    await paid_and_started_without_a_register(server, cp, stripe_sim)
    await meter_event(cp, 1, 2_000_000, timedelta(minutes=1))  # a meter's lifetime register
    await meter_event(cp, 2, 2_019_000, timedelta(minutes=55))
    await payments_of(server).drain()
    assert calls(cp, "RequestStopTransaction") == []
    await meter_event(cp, 3, 2_020_000, timedelta(minutes=61))  # 20 kWh since the first register
    assert (await next_call(cp, "RequestStopTransaction")) == {"transaction_id": "tx-late-meter"}


@pytest.mark.parametrize("evses", [1, 2], ids=["one-evse", "two-evses"])
async def test_a_paid_201_session_whose_started_event_was_lost_still_bills(
    server: RunningServer, charger201: ConnectCharger201, stripe_sim: StripeSim, evses: int
) -> None:
    """The charger started as asked, but only its Updated events reached us (without evse)."""
    await price_station(server, TARIFF, "CP2")
    cp = await charger201("CP2")
    for evse in range(1, evses + 1):
        await status(cp, evse, 1, "Available", NOW)
    created = (await create_answer(server, cp_id="CP2", connector=evses)).json()
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
    reservation_id = created["reservationId"]
    await stage_is(server, reservation_id, "awaitingPlug")
    await status(cp, evses, 1, "Occupied", NOW)
    start = await next_call(cp, "RequestStartTransaction")

    await transaction_event(
        cp,
        "Updated",
        "tx-lost",
        1,
        NOW + timedelta(minutes=1),
        trigger="Authorized",
        tag=start["id_token"]["id_token"],
        remote_start_id=start["remote_start_id"],
        meter=[energy(50_000, NOW + timedelta(minutes=1), "Transaction.Begin")],
    )
    view = await stage_is(server, reservation_id, "charging")
    assert view["connectorId"] == evses
    await transaction_event(
        cp,
        "Ended",
        "tx-lost",
        2,
        NOW + timedelta(hours=1),
        trigger="EVCommunicationLost",
        meter=[energy(60_000, NOW + timedelta(hours=1), "Transaction.End")],
        stopped_reason="EVDisconnected",
    )
    await status(cp, evses, 1, "Available", NOW + timedelta(hours=1, minutes=1))

    receipt = await settled(server, reservation_id, "Captured")
    # 10 kWh x 0.40 EUR = 4.00 EUR, plus the 1.00 EUR session fee.
    assert (receipt["energyWh"], receipt["capturedCents"]) == (10_000, 500)
