"""Where and when a paid session may start, and idle time while the car sits there.

A paid reservation starts only on a connector that can take it, never on
another driver's, and not after its start deadline; time the car spends not
charging (``SuspendedEV``) is billed as idle time under an idle tariff.
"""

from __future__ import annotations

from datetime import timedelta

from ocpp.v16 import call

from builders import NOW, add_tag, timestamp
from chargers import TestCharger
from integration.payments.payflow import (
    IDLE_HOLD,
    IDLE_TARIFF,
    METER_START,
    METER_STOP,
    assert_captured,
    assert_released,
    calls,
    connector_status,
    create,
    create_and_pay,
    money_state_is,
    payments_of,
    priced_charger,
    set_clock,
    stage_is,
    start_charging,
    status,
    stop_charging,
    sweep,
)
from ocpp_core.clock import utc_now
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim


async def test_a_paid_start_waits_for_a_free_connector_and_its_deadline_ends_it(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger)
    await connector_status(cp, "Available", 2)
    paid = await create_and_pay(server, stripe_sim)
    # The connector faults before the car arrives: the sweep's retry sends no start.
    await connector_status(cp, "Faulted")
    await sweep(server)
    view = await status(server, paid.reservation_id)
    assert (view["status"], view["sessionStage"]) == ("Authorized", "awaitingPlug")
    # The car is plugged into the other connector, which another driver holds: no move.
    other = await create(server, "WEB-OTHER", connector=2)
    await connector_status(cp, "Preparing", 2)
    await payments_of(server).drain()
    assert calls(cp, "RemoteStartTransaction") == []
    assert (await status(server, paid.reservation_id))["connectorId"] == 1
    assert (await status(server, other["reservationId"]))["status"] == "PendingPayment"

    # Plugged in where it belongs, but after its start deadline: the hold goes back.
    window = server.runtime.settings.payments.start_window_minutes
    set_clock(server, utc_now() + timedelta(minutes=window + 1))
    await connector_status(cp, "Preparing")

    view = await stage_is(server, paid.reservation_id, "error")
    assert (view["status"], view["failureCode"]) == ("StartTimeout", "StartTimeout")
    await assert_released(stripe_sim, paid)
    assert calls(cp, "RemoteStartTransaction") == []


async def test_a_car_plugged_in_where_a_transaction_runs_is_not_started_over_it(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    """Some chargers send an RFID driver's StartTransaction before their Preparing.

    That Preparing is not the paid driver's car: no remote start is sent over the
    running transaction, and the paid reservation keeps waiting for its plug.
    """
    cp = await priced_charger(server, charger)
    paid = await create_and_pay(server, stripe_sim)
    await add_tag(server.runtime.db, "RFID-1")
    started = await cp.call(call.StartTransaction(1, "RFID-1", METER_START, timestamp()))
    assert started.id_tag_info["status"] == "Accepted"

    await connector_status(cp, "Preparing")
    await payments_of(server).drain()

    assert calls(cp, "RemoteStartTransaction") == []
    view = await status(server, paid.reservation_id)
    assert (view["status"], view["sessionStage"]) == ("Authorized", "awaitingPlug")


async def report_at(cp: TestCharger, status_name: str, minutes: int) -> None:
    at = timestamp(NOW + timedelta(minutes=minutes))
    await cp.call(call.StatusNotification(1, "NoError", status_name, timestamp=at))


async def test_time_the_car_stops_drawing_power_is_billed_as_idle_time(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    """Idle 10 minutes mid-session and the last 20: 30 minutes, 5 free, 25 at 0.10."""
    cp = await priced_charger(server, charger, IDLE_TARIFF)
    paid = await create_and_pay(server, stripe_sim)
    transaction_id, id_tag = await start_charging(server, cp, paid.reservation_id)
    await report_at(cp, "SuspendedEV", 10)
    await report_at(cp, "Charging", 20)
    await report_at(cp, "SuspendedEV", 40)

    await stop_charging(cp, transaction_id, id_tag)  # an hour in

    await money_state_is(server, paid.reservation_id, "Captured")
    receipt = (await status(server, paid.reservation_id))["receipt"]
    energy_cents = (METER_STOP - METER_START) * 40 // 1000
    assert (receipt["usageMinutes"], receipt["usageCents"]) == (25, 250)
    assert receipt["capturedCents"] == energy_cents + 100 + 250
    await assert_captured(stripe_sim, paid, energy_cents + 100 + 250, IDLE_HOLD)
