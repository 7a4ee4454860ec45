"""A paid session holds its connector with the charger's own reservation, where it takes one.

The charger under the reservation waits for the cable itself, so the remote start goes
as soon as the payment is authorized: a 1.6 connector may stay Reserved when the car
plugs in, and a session waiting for Preparing there would time out. Money is read from
Stripe; the reservation as the operators' API shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from ocpp.v16 import call, call_result
from ocpp.v201 import call as call201

from builders import NOW, timestamp
from chargers import Late, TestCharger, TestCharger201
from events201 import energy, transaction_event
from events201 import status as status201
from integration.payments.payflow import (
    CP,
    DUE,
    HOLD,
    METER_START,
    METER_STOP,
    TARIFF,
    Paid,
    SteppedClock,
    assert_captured,
    assert_released,
    calls,
    checkout_session_id,
    connect,
    create,
    create_answer,
    minutes,
    next_call,
    payments_of,
    price_station,
    report,
    reservation,
    settled,
    stage_is,
    status,
    stop_transaction,
    sweep,
)
from ocpp_core.db.models import ChargePoint
from ocpp_core.domain import reservations as charger_reservations
from ocpp_core.domain.reservations import NewReservation
from servers import ConnectCharger, ConnectCharger201, RunningServer
from stripe_harness import StripeSim, eventually

CP2 = "CP2"


def takes_reservations(cp: TestCharger) -> None:
    """The 1.6 charger lists the Reservation feature profile."""
    profiles = {"key": "SupportedFeatureProfiles", "readonly": True, "value": "Core,Reservation"}
    cp.answers["GetConfiguration"] = {"configuration_key": [profiles]}


def takes_reservations_201(cp: TestCharger201, enabled: str = "true") -> None:
    cp.variables[("ReservationCtrlr", "Available")] = "true"
    cp.variables[("ReservationCtrlr", "Enabled")] = enabled


async def paid(server: RunningServer, stripe_sim: StripeSim, cp_id: str = CP) -> Paid:
    """The driver pays; the webhook authorizes the session and the server goes on from there."""
    created = await create(server, cp_id=cp_id)
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
    return Paid(created["reservationId"], checkout_session_id(created["checkoutUrl"]), created)


async def status_is(server: RunningServer, reservation_id: str, wanted: str) -> None:
    async def reached() -> bool:
        return bool((await status(server, reservation_id))["status"] == wanted)

    await eventually(reached)


async def holds(server: RunningServer, cp_id: str = CP) -> list[dict[str, Any]]:
    """The charger reservations the operators' API lists for the charge point."""
    response = await server.api.get("/API/Reservations", params={"cp": cp_id})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["reservations"]
    return found


async def hold_is(server: RunningServer, wanted: str, cp_id: str = CP) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    async def reached() -> bool:
        seen[:] = await holds(server, cp_id)
        return len(seen) == 1 and seen[0]["status"] == wanted

    try:
        await eventually(reached)
    except TimeoutError:
        raise AssertionError(f"the hold is never {wanted}: {seen}") from None
    return seen[0]


async def supported(server: RunningServer, cp_id: str = CP) -> bool | None:
    async with server.runtime.db.session() as session:
        charge_point = await session.get(ChargePoint, cp_id)
        assert charge_point is not None
        return charge_point.reservations_supported


@dataclass(frozen=True)
class Sent:
    reserve: dict[str, Any]  # the ReserveNow
    start: dict[str, Any]  # the RemoteStartTransaction that followed at once


async def held(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> tuple[TestCharger, Paid, Sent]:
    """A 1.6 charger that takes reservations, paid for: reserved, then started at once."""
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    takes_reservations(cp)
    session = await paid(server, stripe_sim)
    reserve = await next_call(cp, "ReserveNow")
    start = await next_call(cp, "RemoteStartTransaction")
    return cp, session, Sent(reserve, start)


async def gone(server: RunningServer, cp: TestCharger) -> None:
    """The charger drops its connection, and the server knows it is offline."""
    await cp.connection.websocket.close()

    async def offline() -> bool:
        return not await server.runtime.router.is_online(CP)

    await eventually(offline)


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


# --- a charger that takes reservations --------------------------------------------------------


async def test_a_16_connector_that_stays_reserved_on_plug_in_still_starts_the_paid_session(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    takes_reservations(cp)

    session = await paid(server, stripe_sim)

    reserve = await next_call(cp, "ReserveNow")
    assert calls(cp, "GetConfiguration") == [{"key": ["SupportedFeatureProfiles"]}]
    tag = (await reservation(server, session.reservation_id)).ocpp_id_tag
    assert (reserve["connector_id"], reserve["id_tag"]) == (1, tag)
    assert at(reserve["expiry_date"]) == clock.start + minutes(5)  # the start deadline
    await report(cp, clock, 1, "Reserved")  # and so it stays when the car plugs in
    start = await next_call(cp, "RemoteStartTransaction")  # at once: no Preparing came
    assert (start["connector_id"], start["id_tag"]) == (1, tag)
    await status_is(server, session.reservation_id, "StartRequested")
    view = await status(server, session.reservation_id)
    assert view["sessionStage"] == "awaitingPlug"  # the driver is still to plug in
    hold = await hold_is(server, "Accepted")
    assert (hold["reservationId"], hold["idTag"]) == (reserve["reservation_id"], tag)
    assert (hold["paymentReservationId"], hold["createdBy"]) == (session.reservation_id, "payments")
    assert (await create_answer(server, driver="d2")).status_code == 409  # held for the payer

    started = await cp.call(
        call.StartTransaction(
            1, tag, METER_START, clock.stamp(minutes(1)), reservation_id=reserve["reservation_id"]
        )
    )
    assert isinstance(started, call_result.StartTransaction)
    assert started.id_tag_info["status"] == "Accepted"
    await stage_is(server, session.reservation_id, "charging")
    used = await hold_is(server, "Used")
    assert used["transactionId"] == started.transaction_id
    await stop_transaction(
        cp, clock, started.transaction_id, minutes(61), METER_STOP, "EVDisconnected"
    )

    receipt = await settled(server, session.reservation_id, "Captured")
    assert (receipt["capturedCents"], receipt["releasedCents"]) == (DUE, HOLD - DUE)
    await assert_captured(stripe_sim, session, DUE, HOLD)
    assert calls(cp, "CancelReservation") == []
    assert await supported(server) is True


async def test_a_201_station_that_takes_reservations_starts_the_paid_session_at_once(
    server: RunningServer, charger201: ConnectCharger201, stripe_sim: StripeSim
) -> None:
    await price_station(server, TARIFF, CP2)
    cp = await charger201(CP2)
    takes_reservations_201(cp)
    await status201(cp, 1, 1, "Available", NOW)

    session = await paid(server, stripe_sim, CP2)

    reserve = await next_call(cp, "ReserveNow")
    asked = [data["variable"]["name"] for data in calls(cp, "GetVariables")[0]["get_variable_data"]]
    assert asked == ["Available", "Enabled"]
    tag = (await reservation(server, session.reservation_id)).ocpp_id_tag
    assert (reserve["evse_id"], reserve["id_token"]["id_token"]) == (1, tag)
    await status201(cp, 1, 1, "Reserved", NOW)
    start = await next_call(cp, "RequestStartTransaction")
    assert (start["evse_id"], start["id_token"]["id_token"]) == (1, tag)

    began = await cp.call(
        call201.TransactionEvent(
            event_type="Started",
            timestamp=timestamp(NOW),
            trigger_reason="RemoteStart",
            seq_no=0,
            transaction_info={"transaction_id": "tx-held", "charging_state": "Charging"},
            evse={"id": 1, "connector_id": 1},
            id_token={"id_token": tag, "type": "ISO14443"},
            meter_value=[energy(METER_START, NOW, "Transaction.Begin")],
            reservation_id=reserve["id"],
        )
    )
    assert began.id_token_info["status"] == "Accepted"
    await stage_is(server, session.reservation_id, "charging")
    await hold_is(server, "Used", CP2)
    end = NOW + timedelta(hours=1)
    await transaction_event(
        cp,
        "Ended",
        "tx-held",
        1,
        end,
        trigger="EVCommunicationLost",
        meter=[energy(METER_STOP, end, "Transaction.End")],
        stopped_reason="EVDisconnected",
    )

    receipt = await settled(server, session.reservation_id, "Captured")
    assert (receipt["capturedCents"], receipt["releasedCents"]) == (DUE, HOLD - DUE)
    await assert_captured(stripe_sim, session, DUE, HOLD)
    assert await supported(server, CP2) is True


async def test_an_unanswered_reserve_now_is_sent_again_with_the_same_id(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    """The first ReserveNow's answer came too late (the charger took it all the same): the
    session waits for the plug meanwhile, and the sweep reserves again, under the same id,
    once the claim on that ReserveNow has lapsed."""
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    takes_reservations(cp)
    timeout = server.runtime.settings.ocpp.command_timeout
    cp.answers["ReserveNow"] = Late(timeout + 1)

    session = await paid(server, stripe_sim)

    first = await next_call(cp, "ReserveNow")
    await stage_is(server, session.reservation_id, "awaitingPlug")
    await hold_is(server, "Requested")
    del cp.answers["ReserveNow"]
    await report(cp, clock, 1, "Reserved")  # once its late answer is out
    await sweep(server)  # the claim on the first ReserveNow still holds
    assert len(calls(cp, "ReserveNow")) == 1

    clock.set(minutes(1))
    await sweep(server)

    again = await next_call(cp, "ReserveNow")
    assert again["reservation_id"] == first["reservation_id"]
    start = await next_call(cp, "RemoteStartTransaction")  # the connector, Reserved, is ours
    assert start["id_tag"] == first["id_tag"]
    await status_is(server, session.reservation_id, "StartRequested")
    await hold_is(server, "Accepted")


async def test_a_car_plugged_in_beside_the_connector_being_reserved_is_another_drivers(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    """While the charger is still to hold the session's connector, a car plugged in at
    the one beside it is someone else's (the demo's RFID card once lost its session so):
    the session is not moved there and started on the payer's money."""
    await price_station(server, TARIFF)
    cp = await connect(charger, clock, connectors=(1, 2))
    takes_reservations(cp)
    cp.answers["ReserveNow"] = Late(server.runtime.settings.ocpp.command_timeout + 1)

    session = await paid(server, stripe_sim)
    await next_call(cp, "ReserveNow")
    await hold_is(server, "Requested")
    del cp.answers["ReserveNow"]
    await report(cp, clock, 2, "Preparing")  # once the late answer is out
    await payments_of(server).drain()

    assert calls(cp, "RemoteStartTransaction") == []
    view = await status(server, session.reservation_id)
    assert (view["connectorId"], view["sessionStage"]) == (1, "awaitingPlug")


@pytest.mark.parametrize("refusal", ["Rejected", "Occupied"])
async def test_a_refused_reservation_keeps_the_session_waiting_for_the_plug(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    clock: SteppedClock,
    refusal: str,
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    takes_reservations(cp)
    cp.answers["ReserveNow"] = {"status": refusal}

    session = await paid(server, stripe_sim)

    await next_call(cp, "ReserveNow")
    await stage_is(server, session.reservation_id, "awaitingPlug")
    await hold_is(server, refusal)
    clock.set(minutes(1))
    await sweep(server)  # the refusal stands: neither a second ReserveNow nor a start
    assert (len(calls(cp, "ReserveNow")), calls(cp, "RemoteStartTransaction")) == (1, [])

    await report(cp, clock, 1, "Preparing", minutes(1))
    start = await next_call(cp, "RemoteStartTransaction")
    started = await cp.call(
        call.StartTransaction(1, start["id_tag"], METER_START, clock.stamp(minutes(2)))
    )
    assert started.id_tag_info["status"] == "Accepted"
    await stage_is(server, session.reservation_id, "charging")
    await stop_transaction(
        cp, clock, started.transaction_id, minutes(62), METER_STOP, "EVDisconnected"
    )
    await settled(server, session.reservation_id, "Captured")
    await assert_captured(stripe_sim, session, DUE, HOLD)


# --- the session ends without charging --------------------------------------------------------


async def test_a_timed_out_paid_session_cancels_the_chargers_reservation(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    takes_reservations(cp)
    session = await paid(server, stripe_sim)
    reserve = await next_call(cp, "ReserveNow")
    await next_call(cp, "RemoteStartTransaction")  # Accepted, and then no car comes
    await status_is(server, session.reservation_id, "StartRequested")

    clock.set(minutes(5))  # the deadline, and the reservation's expiry
    await sweep(server)

    view = await status(server, session.reservation_id)
    assert (view["status"], view["sessionStage"]) == ("StartTimeout", "error")
    cancel = await next_call(cp, "CancelReservation")
    assert cancel == {"reservation_id": reserve["reservation_id"]}
    await hold_is(server, "Cancelled")
    await assert_released(stripe_sim, session)
    await sweep(server)  # ended: nothing is cancelled twice
    assert len(calls(cp, "CancelReservation")) == 1


async def test_a_session_cancelled_while_the_charger_is_offline_cancels_its_reservation_later(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    cp, session, sent = await held(server, charger, stripe_sim, clock)
    reserve = sent.reserve
    await status_is(server, session.reservation_id, "StartRequested")
    await gone(server, cp)
    cancelled = await server.api.post(
        "/API/Payments/Cancel", json={"reservationId": session.reservation_id}
    )
    assert cancelled.json()["cancellationApplied"] is True
    await payments_of(server).drain()
    await assert_released(stripe_sim, session)
    assert (await hold_is(server, "Accepted"))["paymentReservationId"] == session.reservation_id

    back = await connect(charger, clock)
    back.answers["CancelReservation"] = {"status": "Rejected"}  # it had dropped it: fine
    clock.set(minutes(1))
    await sweep(server)

    assert await next_call(back, "CancelReservation") == {
        "reservation_id": reserve["reservation_id"]
    }
    await hold_is(server, "Cancelled")
    assert (await create_answer(server, driver="next")).json()["status"] == "Redirect"


# --- a charger that takes none ----------------------------------------------------------------


async def test_a_16_charger_without_reservations_keeps_plug_first_and_is_asked_once(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)  # lists no Reservation profile

    session = await paid(server, stripe_sim)

    await stage_is(server, session.reservation_id, "awaitingPlug")
    await payments_of(server).drain()
    assert await supported(server) is False
    clock.set(minutes(1))
    await sweep(server)
    assert calls(cp, "GetConfiguration") == [{"key": ["SupportedFeatureProfiles"]}]
    assert (calls(cp, "ReserveNow"), calls(cp, "RemoteStartTransaction")) == ([], [])
    assert await holds(server) == []

    await report(cp, clock, 1, "Preparing", minutes(1))
    await next_call(cp, "RemoteStartTransaction")
    await status_is(server, session.reservation_id, "StartRequested")
    # A new firmware may take reservations: asked again after the charger boots.
    await cp.call(call.BootNotification(charge_point_model="M1", charge_point_vendor="V1"))
    assert await supported(server) is None


async def test_a_201_station_with_reservations_disabled_keeps_plug_first(
    server: RunningServer, charger201: ConnectCharger201, stripe_sim: StripeSim
) -> None:
    await price_station(server, TARIFF, CP2)
    cp = await charger201(CP2)
    takes_reservations_201(cp, enabled="false")
    await status201(cp, 1, 1, "Available", NOW)

    session = await paid(server, stripe_sim, CP2)

    await stage_is(server, session.reservation_id, "awaitingPlug")
    await payments_of(server).drain()
    assert await supported(server, CP2) is False
    assert calls(cp, "ReserveNow") == []
    await status201(cp, 1, 1, "Occupied", NOW)
    await next_call(cp, "RequestStartTransaction")


async def test_a_201_reservation_refused_keeps_plug_first_and_a_timed_out_one_is_cancelled(
    server: RunningServer, charger201: ConnectCharger201, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    """Two drivers on one 2.0.1 station: the reservation of EVSE 1 is refused (the first
    waits for the plug), that of EVSE 2 accepted (the second starts at once, then no car
    comes: both time out, and only the accepted reservation is cancelled)."""
    await price_station(server, TARIFF, CP2)
    cp = await charger201(CP2)
    takes_reservations_201(cp)
    await status201(cp, 1, 1, "Available", clock.start)
    await status201(cp, 2, 1, "Available", clock.start)
    cp.answers["ReserveNow"] = {"status": "Occupied"}

    waiting = await paid(server, stripe_sim, CP2)
    assert (await next_call(cp, "ReserveNow"))["evse_id"] == 1
    await stage_is(server, waiting.reservation_id, "awaitingPlug")
    assert calls(cp, "RequestStartTransaction") == []

    del cp.answers["ReserveNow"]
    created = await create(server, cp_id=CP2, connector=2, driver="second")
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
    held = Paid(created["reservationId"], checkout_session_id(created["checkoutUrl"]), created)
    reserve = await next_call(cp, "ReserveNow")
    assert reserve["evse_id"] == 2
    assert (await next_call(cp, "RequestStartTransaction"))["evse_id"] == 2
    await status_is(server, held.reservation_id, "StartRequested")

    clock.set(minutes(5))
    await sweep(server)

    for session in (waiting, held):
        assert (await status(server, session.reservation_id))["status"] == "StartTimeout"
        await assert_released(stripe_sim, session)
    assert await next_call(cp, "CancelReservation") == {"reservation_id": reserve["id"]}
    by_evse = {hold["connectorId"]: hold["status"] for hold in await holds(server, CP2)}
    assert by_evse == {1: "Occupied", 2: "Cancelled"}
    assert len(calls(cp, "CancelReservation")) == 1


# --- chargers that go their own way -----------------------------------------------------------


async def test_a_session_started_on_another_connector_still_uses_up_its_hold(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    cp, session, sent = await held(server, charger, stripe_sim, clock)
    start = sent.start
    await hold_is(server, "Accepted")

    # The driver plugged into the connector beside the reserved one, and the charger
    # started there, naming no reservation.
    started = await cp.call(
        call.StartTransaction(2, start["id_tag"], METER_START, clock.stamp(minutes(1)))
    )
    assert isinstance(started, call_result.StartTransaction)
    await stage_is(server, session.reservation_id, "charging")

    used = await hold_is(server, "Used")
    assert used["transactionId"] == started.transaction_id
    assert calls(cp, "CancelReservation") == []


async def test_a_hold_whose_charger_stays_away_past_its_expiry_ends_expired(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    cp, session, _ = await held(server, charger, stripe_sim, clock)
    await hold_is(server, "Accepted")
    await gone(server, cp)
    clock.set(minutes(5))  # the deadline: the session times out, the charger is still away
    await sweep(server)

    assert (await status(server, session.reservation_id))["status"] == "StartTimeout"
    await hold_is(server, "Expired")  # the charger dropped it by itself; nothing to cancel
    await assert_released(stripe_sim, session)


async def test_an_operators_reservation_made_while_the_driver_pays_leaves_the_session_plug_first(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    takes_reservations(cp)
    created = await create(server)
    # Meanwhile an operator reserves the connector (stored as the API stores it).
    operators = NewReservation(CP, 1, None, "STAFF", None, clock.start + minutes(30), "api")
    async with server.runtime.db.session() as session:
        await charger_reservations.create(session, operators, now=clock.start)

    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
    await status_is(server, created["reservationId"], "Authorized")
    view = await status(server, created["reservationId"])
    assert view["sessionStage"] == "awaitingPlug"
    assert calls(cp, "ReserveNow") == []  # the connector is someone else's to hold
    assert calls(cp, "RemoteStartTransaction") == []


async def test_a_charger_away_when_asked_about_reservations_is_started_when_the_car_is_in(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, clock: SteppedClock
) -> None:
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    created = await create(server)
    await gone(server, cp)
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
    await status_is(server, created["reservationId"], "Authorized")
    assert await supported(server) is None  # not known yet: no answer is no "no"

    back = await connect(charger, clock)
    takes_reservations(back)
    await report(back, clock, 1, "Preparing")  # the car is in: nothing left to hold

    start = await next_call(back, "RemoteStartTransaction")
    assert start["connector_id"] == 1
    assert calls(back, "ReserveNow") == []
