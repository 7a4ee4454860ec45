"""What a charger can do wrong after the driver paid, and what it costs the driver.

Each test ends on money as Stripe holds it (read through the SDK from the
simulator): the exact amount captured, or the hold released, never stranded.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from ocpp.exceptions import InternalError, OCPPError
from ocpp.v16 import call, call_result

from chargers import Late, TestCharger
from integration.payments.payflow import (
    CP,
    HOLD,
    IDLE_HOLD,
    IDLE_TARIFF,
    TARIFF,
    Paid,
    SteppedClock,
    assert_captured,
    assert_released,
    calls,
    checkout_session_id,
    connect,
    create,
    create_and_pay,
    create_answer,
    energy_sample,
    intent,
    minutes,
    next_call,
    payments_of,
    pending_faults,
    price_station,
    report,
    send_meter,
    settled,
    stage_is,
    start_transaction,
    status,
    stop_transaction,
    sweep,
)
from ocpp_core.config import PaymentSettings
from ocpp_core.db.models import Transaction
from ocpp_core.domain import connectors, transactions
from ocpp_core.domain.transactions import TransactionStop
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim, eventually


async def plug_and_start(
    server: RunningServer, cp: TestCharger, clock: SteppedClock, paid: Paid, connector: int = 1
) -> tuple[str, int]:
    """The car is plugged in, the server starts the charger, charging begins at minute 1."""
    await report(cp, clock, connector, "Preparing")
    start = await next_call(cp, "RemoteStartTransaction")
    assert start["connector_id"] == connector
    id_tag: str = start["id_tag"]
    transaction_id = await start_transaction(cp, clock, id_tag, minutes(1), 1_000, connector)
    await report(cp, clock, connector, "Charging", minutes(1))
    await stage_is(server, paid.reservation_id, "charging")
    return id_tag, transaction_id


async def charged_and_left_plugged_in(
    server: RunningServer, cp: TestCharger, clock: SteppedClock, paid: Paid, connector: int = 1
) -> dict[str, Any]:
    """Charged from minute 1 to 61 (12.5 kWh); the car stays plugged in: the idle fee runs."""
    _, transaction_id = await plug_and_start(server, cp, clock, paid, connector)
    await stop_transaction(cp, clock, transaction_id, minutes(61), 13_500, "Local")
    await report(cp, clock, connector, "Finishing", minutes(61))
    return await stage_is(server, paid.reservation_id, "waitingForDisconnect")


async def unplugged_unseen(server: RunningServer, connector: int, at: datetime) -> None:
    """The connector's Available is stored; the event it would have caused is lost."""
    async with server.runtime.db.session() as session:
        await connectors.record_status(
            session, CP, connector, status="Available", error_code="NoError", at=at
        )


async def disconnect(server: RunningServer, cp: TestCharger) -> None:
    await cp.connection.websocket.close()

    async def offline() -> bool:
        return not await server.runtime.router.is_online(CP)

    await eventually(offline)


async def transaction(server: RunningServer, transaction_id: int) -> dict[str, Any]:
    response = await server.api.get(f"/API/Transactions/{transaction_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- the start fails --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "refusal",
    [{"status": "Rejected"}, InternalError("the charger's firmware failed")],
    ids=["Rejected", "CALLERROR"],
)
async def test_a_rejected_remote_start_releases_the_hold(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    clock: SteppedClock,
    refusal: dict[str, Any] | OCPPError,
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    cp.answers["RemoteStartTransaction"] = refusal
    paid = await create_and_pay(server, stripe_sim)
    held = await intent(stripe_sim, paid.checkout_url)
    assert (held.status, held.amount_capturable) == ("requires_capture", HOLD)

    await report(cp, clock, 1, "Preparing")
    start = await next_call(cp, "RemoteStartTransaction")

    view = await stage_is(server, paid.reservation_id, "error")
    assert (view["status"], view["failureCode"]) == ("StartRejected", "RemoteStartRejected")
    await assert_released(stripe_sim, paid)
    # The session's tag died with it, and the connector is free for the next driver.
    authorized = await cp.call(call.Authorize(start["id_tag"]))
    assert authorized.id_tag_info["status"] != "Accepted"
    assert (await create_answer(server)).status_code == 200


async def test_a_charger_offline_after_payment_starts_once_it_is_back(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    paid = await create_and_pay(server, stripe_sim)
    await disconnect(server, cp)

    clock.set(minutes(2))
    await sweep(server)  # within the deadline: the reservation keeps waiting
    view = await status(server, paid.reservation_id)
    assert (view["status"], view["sessionStage"]) == ("Authorized", "awaitingPlug")

    back = await connect(charger, clock)
    _, transaction_id = await plug_and_start(server, back, clock, paid)
    await stop_transaction(back, clock, transaction_id, minutes(61), 13_500, "EVDisconnected")

    receipt = await settled(server, paid.reservation_id, "Captured")
    # 12.5 kWh x 0.40 EUR + 1.00 EUR session fee
    assert (receipt["capturedCents"], receipt["releasedCents"]) == (600, HOLD - 600)
    await assert_captured(stripe_sim, paid, 600, HOLD)


async def test_a_charger_offline_past_the_deadline_times_out_and_releases(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    paid = await create_and_pay(server, stripe_sim)
    await disconnect(server, cp)

    clock.set(minutes(5) + minutes(1 / 60))  # the start window is 5 minutes
    await sweep(server)

    view = await status(server, paid.reservation_id)
    assert (view["status"], view["failureCode"]) == ("StartTimeout", "StartTimeout")
    await assert_released(stripe_sim, paid)
    # The charger comes back and a car is plugged in: nothing is started for a dead payment.
    back = await connect(charger, clock)
    await report(back, clock, 1, "Preparing", minutes(6))
    await payments_of(server).drain()
    assert calls(back, "RemoteStartTransaction") == []


class TestStartWithoutWaitingForThePlug:
    """Plug-first off: the remote start goes out right after payment, and must be retried."""

    @pytest.fixture
    def payment_settings(self) -> PaymentSettings:
        return PaymentSettings(
            min_session_energy_wh=500,
            sweep_interval_seconds=3600,
            retry_base_seconds=0.05,
            disconnect_grace_seconds=0,
            require_plug_before_start=False,
        )

    async def test_the_sweep_retries_the_start_until_the_charger_is_back(
        self,
        server: RunningServer,
        charger: ConnectCharger,
        stripe_sim: StripeSim,
        clock: SteppedClock,
    ) -> None:
        await price_station(server, TARIFF)
        cp = await connect(charger, clock)
        created = await create(server)
        await disconnect(server, cp)
        assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
        reservation_id = created["reservationId"]

        async def webhook_handled() -> bool:
            return any(
                delivery["event_type"] == "checkout.session.completed" and delivery["delivered"]
                for delivery in await stripe_sim.deliveries()
            )

        await eventually(webhook_handled)
        await payments_of(server).drain()  # the start it tried found the charger offline
        view = await status(server, reservation_id)
        assert (view["status"], view["authorizedCents"]) == ("Authorized", HOLD)
        clock.set(minutes(1))
        await sweep(server)  # still offline: tried, still waiting
        assert (await status(server, reservation_id))["status"] == "Authorized"

        back = await connect(charger, clock)
        clock.set(minutes(2))
        await sweep(server)
        start = await next_call(back, "RemoteStartTransaction")
        assert (await status(server, reservation_id))["status"] == "StartRequested"
        transaction_id = await start_transaction(back, clock, start["id_tag"], minutes(3), 0)
        await stage_is(server, reservation_id, "charging")
        await stop_transaction(back, clock, transaction_id, minutes(63), 10_000, "EVDisconnected")

        receipt = await settled(server, reservation_id, "Captured")
        assert receipt["capturedCents"] == 500  # 10 kWh x 0.40 + 1.00
        paid = Paid(reservation_id, checkout_session_id(created["checkoutUrl"]), created)
        await assert_captured(stripe_sim, paid, 500, HOLD)
        assert len(calls(back, "RemoteStartTransaction")) == 1


async def test_no_start_transaction_before_the_deadline_times_out_and_releases(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    paid = await create_and_pay(server, stripe_sim)
    await report(cp, clock, 1, "Preparing")
    start = await next_call(cp, "RemoteStartTransaction")  # Accepted, and then nothing

    async def requested() -> bool:
        return bool((await status(server, paid.reservation_id))["status"] == "StartRequested")

    await eventually(requested)
    clock.set(minutes(4))
    await sweep(server)
    assert (await status(server, paid.reservation_id))["status"] == "StartRequested"

    clock.set(minutes(5))  # the deadline itself
    await sweep(server)
    view = await status(server, paid.reservation_id)
    assert (view["status"], view["sessionStage"]) == ("StartTimeout", "error")
    await assert_released(stripe_sim, paid)

    # The car finally starts: the expired tag is refused and no money moves.
    late = await cp.call(call.StartTransaction(1, start["id_tag"], 1_000, clock.stamp(minutes(6))))
    assert isinstance(late, call_result.StartTransaction)
    assert late.id_tag_info["status"] != "Accepted"
    await payments_of(server).drain()
    assert (await status(server, paid.reservation_id))["status"] == "StartTimeout"
    await assert_released(stripe_sim, paid)


# --- the car stays --------------------------------------------------------------------------


async def test_the_idle_fee_runs_until_the_car_is_unplugged(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, IDLE_TARIFF)
    cp = await connect(charger, clock)
    paid = await create_and_pay(server, stripe_sim)
    view = await charged_and_left_plugged_in(server, cp, clock, paid)
    assert view["status"] == "WaitingForDisconnect"
    clock.set(minutes(66))  # within the grace period, nothing to settle yet
    await sweep(server)
    assert (await status(server, paid.reservation_id))["status"] == "WaitingForDisconnect"
    assert (await intent(stripe_sim, paid.checkout_url)).status == "requires_capture"

    await report(cp, clock, 1, "Available", minutes(61 + 12.5))  # 750 s: 13 started minutes

    receipt = await settled(server, paid.reservation_id, "Captured")
    # 12.5 kWh x 0.40 = 5.00, 13 - 5 free minutes x 0.10 = 0.80, session fee 1.00
    assert (receipt["energyCents"], receipt["usageMinutes"], receipt["usageCents"]) == (500, 8, 80)
    assert (receipt["capturedCents"], receipt["releasedCents"]) == (680, IDLE_HOLD - 680)
    await assert_captured(stripe_sim, paid, 680, IDLE_HOLD)


async def test_a_car_never_unplugged_is_settled_once_the_idle_fee_is_capped(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, IDLE_TARIFF)
    cp = await connect(charger, clock)
    paid = await create_and_pay(server, stripe_sim)
    await charged_and_left_plugged_in(server, cp, clock, paid)

    clock.set(minutes(61 + 34))  # 5 free + 29 billed minutes: the fee can still grow
    await sweep(server)
    assert (await status(server, paid.reservation_id))["status"] == "WaitingForDisconnect"

    clock.set(minutes(61 + 35))  # 5 free + 30 billed: capped
    await sweep(server)
    receipt = await settled(server, paid.reservation_id, "Captured")
    # 12.5 kWh x 0.40 = 5.00, 30 minutes x 0.10 = 3.00, session fee 1.00
    assert (receipt["usageMinutes"], receipt["usageCents"]) == (30, 300)
    assert receipt["capturedCents"] == 900
    await assert_captured(stripe_sim, paid, 900, IDLE_HOLD)

    await report(cp, clock, 1, "Available", minutes(61 + 50))  # it leaves at last
    clock.set(minutes(61 + 50))
    await sweep(server)
    assert (await status(server, paid.reservation_id))["receipt"]["capturedCents"] == 900
    await assert_captured(stripe_sim, paid, 900, IDLE_HOLD)


async def test_a_car_unplugged_while_the_sweep_settles_another_is_settled_once(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    """The sweep settles the sessions waiting for their car one after the other, each
    with a call to Stripe. A car unplugged meanwhile is settled by its Available; the
    sweep, coming to that session after, finds it settled and leaves it alone."""
    await price_station(server, IDLE_TARIFF)
    cp = await connect(charger, clock, connectors=(1, 2))
    first = await create_and_pay(server, stripe_sim, connector=1)
    second = await create_and_pay(server, stripe_sim, connector=2)
    for paid, connector in ((first, 1), (second, 2)):
        await charged_and_left_plugged_in(server, cp, clock, paid, connector)
    # The first car left 12.5 minutes after the stop, and its Available was lost.
    await unplugged_unseen(server, 1, clock.start + minutes(61 + 12.5))
    await stripe_sim.fault("POST", "/v1/payment_intents/", "delay", seconds=1)

    clock.set(minutes(61 + 20))
    sweeping = asyncio.create_task(sweep(server))

    async def capturing() -> bool:
        return await pending_faults(stripe_sim) == []

    await eventually(capturing)  # the sweep waits on Stripe for the first capture
    await report(cp, clock, 2, "Available", minutes(61 + 15))
    await settled(server, second.reservation_id, "Captured")
    await sweeping

    # Idle minutes past the 5 free: 8 (0.80) and 10 (1.00); 12.5 kWh (5.00); fee 1.00.
    for paid, cents in ((first, 680), (second, 700)):
        receipt = await settled(server, paid.reservation_id, "Captured")
        assert receipt["capturedCents"] == cents
        await assert_captured(stripe_sim, paid, cents, IDLE_HOLD)


async def test_available_without_a_stop_transaction_is_closed_and_charged(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    paid = await create_and_pay(server, stripe_sim)
    _, transaction_id = await plug_and_start(server, cp, clock, paid)
    await send_meter(cp, clock, transaction_id, minutes(31), "6000")
    await report(cp, clock, 1, "Available", minutes(32))  # and the StopTransaction is lost

    clock.set(minutes(31))  # the connector is not Available yet on this clock
    await sweep(server)
    assert (await status(server, paid.reservation_id))["status"] == "Charging"

    clock.set(minutes(33))
    await sweep(server)
    receipt = await settled(server, paid.reservation_id, "Captured")
    # 6000 - 1000 Wh from the last sampled register: 5 kWh x 0.40 + 1.00
    assert (receipt["energyWh"], receipt["capturedCents"]) == (5_000, 300)
    await assert_captured(stripe_sim, paid, 300, HOLD)
    closed = await transaction(server, transaction_id)
    assert (closed["stopReason"], closed["meterStopWh"], closed["energyWh"]) == (
        "ConnectorAvailableWithoutStop",
        6_000,
        5_000,
    )

    # The lost StopTransaction turns up after all: acknowledged, and no amount changes.
    await stop_transaction(cp, clock, transaction_id, minutes(32), 6_000, "EVDisconnected")
    await sweep(server)
    assert (await status(server, paid.reservation_id))["receipt"]["capturedCents"] == 300
    await assert_captured(stripe_sim, paid, 300, HOLD)


async def test_a_stop_the_payments_missed_is_settled_by_the_sweep(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    """The StopTransaction was stored, and the process died before the payments
    followed it (they act on the event sent after the commit): the reservation still
    says Charging. The sweep settles it from the stored transaction."""
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    paid = await create_and_pay(server, stripe_sim)
    _, transaction_id = await plug_and_start(server, cp, clock, paid)
    end = TransactionStop(CP, transaction_id, None, clock.start + minutes(61), 13_500, "Local")
    max_power_w = server.runtime.settings.ocpp.max_charger_power_w
    async with server.runtime.db.session() as session:
        stored = await session.get(Transaction, transaction_id)
        assert stored is not None
        transactions.stop(stored, end, max_power_w=max_power_w, lowest_jump_wh=None)
    assert (await status(server, paid.reservation_id))["status"] == "Charging"

    await sweep(server)
    receipt = await settled(server, paid.reservation_id, "Captured")
    # 13 500 - 1 000 Wh: 12.5 kWh x 0.40 + 1.00
    assert (receipt["energyWh"], receipt["capturedCents"]) == (12_500, 600)
    assert (await status(server, paid.reservation_id))["stoppedAt"] is not None
    await assert_captured(stripe_sim, paid, 600, HOLD)


async def test_an_unplug_the_payments_missed_is_billed_until_the_car_left(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    """The connector's Available was stored, and the event after the commit was lost
    with the process: the sweep finds the car gone and bills the idle fee up to
    when it left, not up to when the sweep noticed."""
    await price_station(server, IDLE_TARIFF)
    cp = await connect(charger, clock)
    paid = await create_and_pay(server, stripe_sim)
    await charged_and_left_plugged_in(server, cp, clock, paid)
    await unplugged_unseen(server, 1, clock.start + minutes(61 + 12.5))  # 13 started minutes

    clock.set(minutes(61 + 20))
    await sweep(server)
    receipt = await settled(server, paid.reservation_id, "Captured")
    # 12.5 kWh x 0.40 = 5.00, 13 - 5 free minutes x 0.10 = 0.80, session fee 1.00
    assert (receipt["usageMinutes"], receipt["usageCents"], receipt["capturedCents"]) == (
        8,
        80,
        680,
    )
    await assert_captured(stripe_sim, paid, 680, IDLE_HOLD)


# --- the meter --------------------------------------------------------------------------------


async def test_samples_in_kwh_and_registers_in_wh_are_billed_exactly(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    paid = await create_and_pay(server, stripe_sim)
    _, transaction_id = await plug_and_start(server, cp, clock, paid)  # meterStart 1000 Wh

    await send_meter(cp, clock, transaction_id, minutes(31), "6.5", "kWh")
    view = await status(server, paid.reservation_id)
    assert (view["energyWh"], view["live"]["meterWh"], view["costSoFarCents"]) == (
        5_500,
        6_500,
        320,
    )

    samples = [energy_sample(clock, minutes(61), "13.500", "kWh")]
    await stop_transaction(
        cp, clock, transaction_id, minutes(61), 13_500, "EVDisconnected", samples
    )

    receipt = await settled(server, paid.reservation_id, "Captured")
    assert (receipt["energyWh"], receipt["capturedCents"]) == (12_500, 600)
    await assert_captured(stripe_sim, paid, 600, HOLD)
    assert (await transaction(server, transaction_id))["reviewReason"] is None


async def test_reaching_the_max_energy_stops_the_session_once_and_caps_the_capture(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)  # at most 20 kWh
    cp = await connect(charger, clock)
    paid = await create_and_pay(server, stripe_sim)
    _, transaction_id = await plug_and_start(server, cp, clock, paid)  # meterStart 1000 Wh

    await send_meter(cp, clock, transaction_id, minutes(31), "20.9", "kWh")  # 19.9 kWh
    await payments_of(server).drain()
    assert calls(cp, "RemoteStopTransaction") == []

    await send_meter(cp, clock, transaction_id, minutes(41), "21.0", "kWh")  # 20 kWh
    stop = await next_call(cp, "RemoteStopTransaction")
    assert stop["transaction_id"] == transaction_id
    await send_meter(cp, clock, transaction_id, minutes(42), "21100", "Wh")  # a little more
    await payments_of(server).drain()
    assert len(calls(cp, "RemoteStopTransaction")) == 1

    await stop_transaction(cp, clock, transaction_id, minutes(43), 22_000, "Remote")
    receipt = await settled(server, paid.reservation_id, "Captured")
    # 21 kWh x 0.40 + 1.00 = 9.40, but never more than the 9.00 held
    assert (receipt["energyWh"], receipt["capturedCents"], receipt["releasedCents"]) == (
        21_000,
        HOLD,
        0,
    )
    await assert_captured(stripe_sim, paid, HOLD, HOLD)


# --- plug-first ------------------------------------------------------------------------------


async def test_a_car_plugged_into_another_connector_moves_the_reservation_there(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock, connectors=(1, 2))
    paid = await create_and_pay(server, stripe_sim, connector=1)

    _, transaction_id = await plug_and_start(server, cp, clock, paid, connector=2)
    view = await status(server, paid.reservation_id)
    assert (view["connectorId"], view["transactionId"]) == (2, transaction_id)
    # Connector 1 is free for the next driver.
    assert (await create_answer(server, connector=1, tag="NEXT-DRIVER")).status_code == 200

    await stop_transaction(cp, clock, transaction_id, minutes(61), 13_500, "EVDisconnected")
    receipt = await settled(server, paid.reservation_id, "Captured")
    assert receipt["capturedCents"] == 600
    await assert_captured(stripe_sim, paid, 600, HOLD)


async def test_a_car_plugged_into_another_connector_while_the_charger_is_asked_is_followed(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    """The car is plugged in before the server learned that the charger holds no connector
    for a session (its GetConfiguration answer is slow): the answer lets the session
    follow it."""
    await price_station(server, TARIFF)
    cp = await connect(charger, clock, connectors=(1, 2))
    cp.answers["GetConfiguration"] = Late(1)
    paid = await create_and_pay(server, stripe_sim, connector=1)
    await next_call(cp, "GetConfiguration")  # asked whether it takes reservations

    _, transaction_id = await plug_and_start(server, cp, clock, paid, connector=2)

    view = await status(server, paid.reservation_id)
    assert (view["connectorId"], view["transactionId"]) == (2, transaction_id)


async def test_of_two_cars_plugged_in_before_the_charger_answers_neither_is_guessed(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock, connectors=(1, 2, 3))
    # Both plugged in before the charger says it takes no reservations (here: before
    # the payment, whose start asks it).
    await report(cp, clock, 2, "Preparing")
    await report(cp, clock, 3, "Preparing")

    paid = await create_and_pay(server, stripe_sim, connector=1)
    await next_call(cp, "GetConfiguration")
    await payments_of(server).drain()

    assert calls(cp, "RemoteStartTransaction") == []
    view = await status(server, paid.reservation_id)
    assert (view["connectorId"], view["sessionStage"]) == (1, "awaitingPlug")


async def test_a_plug_is_not_guessed_when_two_reservations_wait(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock, connectors=(1, 2, 3))
    first = await create_and_pay(server, stripe_sim, connector=1)
    second = await create_and_pay(server, stripe_sim, connector=2)

    await report(cp, clock, 3, "Preparing")
    await payments_of(server).drain()
    assert calls(cp, "RemoteStartTransaction") == []
    for paid, connector in ((first, 1), (second, 2)):
        view = await status(server, paid.reservation_id)
        assert (view["connectorId"], view["sessionStage"]) == (connector, "awaitingPlug")

    await report(cp, clock, 2, "Preparing")
    start = await next_call(cp, "RemoteStartTransaction")
    assert start["connector_id"] == 2


# A second: chargers that report the unplug just before their StopTransaction. Ten
# minutes: a charger that ends the transaction only later (StopTransactionOnEVSideDisconnect
# false, or a remote stop after the car left): the car is gone all the same.
@pytest.mark.parametrize("gap_minutes", [1 / 60, 10], ids=["a second", "ten minutes"])
async def test_a_car_gone_before_its_stop_transaction_pays_no_idle_fee(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    clock: SteppedClock,
    gap_minutes: float,
) -> None:
    await price_station(server, IDLE_TARIFF)
    cp = await connect(charger, clock)
    paid = await create_and_pay(server, stripe_sim)
    _, transaction_id = await plug_and_start(server, cp, clock, paid)
    # The charger reports the unplug first and the end of the transaction later.
    await report(cp, clock, 1, "Available", minutes(61))
    await stop_transaction(cp, clock, transaction_id, minutes(61 + gap_minutes), 13_500, "Local")

    receipt = await settled(server, paid.reservation_id, "Captured")  # no waiting for a sweep
    assert (receipt["usageCents"], receipt["capturedCents"]) == (0, 600)
    await assert_captured(stripe_sim, paid, 600, IDLE_HOLD)
    clock.set(minutes(61 + 36))  # past the idle fee's cap, nothing more is charged
    await sweep(server)
    await assert_captured(stripe_sim, paid, 600, IDLE_HOLD)


async def test_a_refused_max_energy_stop_is_asked_again(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)  # at most 20 kWh
    cp = await connect(charger, clock)
    cp.answers["RemoteStopTransaction"] = {"status": "Rejected"}
    paid = await create_and_pay(server, stripe_sim)
    _, transaction_id = await plug_and_start(server, cp, clock, paid)  # meterStart 1000 Wh

    await send_meter(cp, clock, transaction_id, minutes(41), "21.0", "kWh")
    await next_call(cp, "RemoteStopTransaction")  # refused: the charger keeps charging
    await payments_of(server).drain()
    del cp.answers["RemoteStopTransaction"]
    await send_meter(cp, clock, transaction_id, minutes(46), "22.5", "kWh")
    await next_call(cp, "RemoteStopTransaction")  # accepted this time
    await send_meter(cp, clock, transaction_id, minutes(47), "22.6", "kWh")
    await payments_of(server).drain()
    assert len(calls(cp, "RemoteStopTransaction")) == 2

    await stop_transaction(cp, clock, transaction_id, minutes(48), 22_600, "Remote")
    receipt = await settled(server, paid.reservation_id, "Captured")
    assert receipt["capturedCents"] == HOLD  # 21.6 kWh would be 9.64: capped at the hold
    await assert_captured(stripe_sim, paid, HOLD, HOLD)


async def test_a_driver_stopping_hears_that_the_charger_refused_did_not_answer_or_is_offline(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    paid = await create_and_pay(server, stripe_sim)
    _, transaction_id = await plug_and_start(server, cp, clock, paid)
    body = {"reservationId": paid.reservation_id}

    cp.answers["RemoteStopTransaction"] = InternalError("the charger's firmware failed")
    refused = await server.api.post("/API/Payments/Stop", json=body)
    assert refused.json() == {
        "status": "Rejected",
        "error": "InternalError",
        "reservationId": paid.reservation_id,
    }

    cp.answers["RemoteStopTransaction"] = Late(server.runtime.settings.ocpp.command_timeout + 1)
    unanswered = await server.api.post("/API/Payments/Stop", json=body)
    assert unanswered.json() == {
        "status": "Timeout",
        "transactionId": transaction_id,
        "reservationId": paid.reservation_id,
    }

    await disconnect(server, cp)
    offline = await server.api.post("/API/Payments/Stop", json=body)
    assert offline.json() == {
        "status": "ChargerOffline",
        "transactionId": transaction_id,
        "reservationId": paid.reservation_id,
    }
    view = await status(server, paid.reservation_id)
    assert view["status"] == "Charging"  # nothing stopped: the session goes on
