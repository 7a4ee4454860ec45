"""A server restarted at any point of a paid session, and drivers racing for one connector.

The restart is real: the server app is shut down and a new one is built on the
same database and served on the same port (where the simulator's webhooks
go); the charger reconnects. The session must end with the same money as
without the restart, captured once.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from chargers import TestCharger
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
    copy_of,
    create,
    create_answer,
    delivery_over,
    events,
    intent,
    minutes,
    next_call,
    pay,
    payments_of,
    pending_faults,
    post,
    price_station,
    report,
    reservation,
    reusable,
    running_server,
    send_meter,
    settled,
    socket_on,
    stage_is,
    start_transaction,
    status,
    stop_transaction,
    sweep,
)
from ocpp_core.config import Settings
from ocpp_core.db.models import PaymentReservation
from ocpp_core.domain import transactions
from ocpp_core.domain.transactions import TransactionStart
from ocpp_core.payments import reservations
from ocpp_core.payments.reservations import ConnectorBusy
from servers import ChargerFactory, ConnectCharger, RunningServer, listening_socket
from stripe_harness import PAST_TIMEOUT, StripeSim, eventually

# --- a restart in every state -----------------------------------------------------------------

# The whole session on the idle-fee tariff: 12.5 kWh (5.00), unplugged 7.5 minutes after the
# stop (8 started minutes, 5 free: 0.30), session fee 1.00.
EXPECTED_CENTS = 500 + 30 + 100


@dataclass
class Session:
    """One paid session, carried from one server to the next."""

    server: RunningServer
    cp: TestCharger
    clock: SteppedClock
    stripe_sim: StripeSim
    capture_fault: str | None = None
    created: dict[str, Any] = field(default_factory=dict)
    paid: Paid | None = None
    id_tag: str = ""
    transaction_id: int = 0
    connector_status: str = "Available"
    status_at: float = 0
    stopped: bool = False

    @property
    def reservation_id(self) -> str:
        return str(self.created["reservationId"])

    async def reservation_status(self) -> str:
        return str((await status(self.server, self.reservation_id))["status"])

    async def report(self, connector_status: str, at: float) -> None:
        self.connector_status, self.status_at = connector_status, at
        await report(self.cp, self.clock, 1, connector_status, minutes(at))


async def created(s: Session) -> None:
    s.created = await create(s.server)
    assert await s.reservation_status() == "PendingPayment"


async def authorized(s: Session) -> None:
    s.paid = await pay(s.server, s.stripe_sim, s.created)
    assert await s.reservation_status() == "Authorized"


async def start_requested(s: Session) -> None:
    await s.report("Preparing", 0.5)
    s.id_tag = (await next_call(s.cp, "RemoteStartTransaction"))["id_tag"]

    async def requested() -> bool:
        return await s.reservation_status() == "StartRequested"

    await eventually(requested)


async def charging(s: Session) -> None:
    s.transaction_id = await start_transaction(s.cp, s.clock, s.id_tag, minutes(1), 1_000)
    await s.report("Charging", 1)
    await send_meter(s.cp, s.clock, s.transaction_id, minutes(31), "7.250", "kWh")
    await stage_is(s.server, s.reservation_id, "charging")


async def waiting_for_disconnect(s: Session) -> None:
    await stop_transaction(s.cp, s.clock, s.transaction_id, minutes(61), 13_500, "Local")
    s.stopped = True
    await s.report("Finishing", 61)
    await stage_is(s.server, s.reservation_id, "waitingForDisconnect")


async def completed(s: Session) -> None:
    assert s.paid is not None
    held = await intent(s.stripe_sim, s.paid.checkout_url)
    capture = f"/v1/payment_intents/{held.id}/capture"
    if s.capture_fault == "error":  # a 500: Stripe did nothing
        await s.stripe_sim.fault("POST", capture)
    elif s.capture_fault == "timeout":  # Stripe captures, but after our timeout
        await s.stripe_sim.fault("POST", capture, kind="delay", seconds=PAST_TIMEOUT)
    await s.report("Available", 61 + 7.5)
    if s.capture_fault is None:
        await settled(s.server, s.reservation_id, "Captured")
        return
    await settled(s.server, s.reservation_id, "CapturePending")
    if s.capture_fault == "timeout":
        paid = s.paid

        async def captured_behind_our_back() -> bool:
            return bool((await intent(s.stripe_sim, paid.checkout_url)).status == "succeeded")

        await eventually(captured_behind_our_back)


STEPS: list[tuple[str, Callable[[Session], Awaitable[None]]]] = [
    ("PendingPayment", created),
    ("Authorized", authorized),
    ("StartRequested", start_requested),
    ("Charging", charging),
    ("WaitingForDisconnect", waiting_for_disconnect),
    ("Completed", completed),
]


async def reconnect(s: Session, server: RunningServer, chargers: ChargerFactory) -> None:
    """The charger finds the new server and reports where its connector is."""
    s.server = server
    s.cp = await chargers(CP)
    await s.report(s.connector_status, s.status_at)
    # Unsure what the old server got, the charger sends its transaction messages again.
    if s.transaction_id:
        again = await start_transaction(s.cp, s.clock, s.id_tag, minutes(1), 1_000)
        assert again == s.transaction_id
    if s.stopped:
        await stop_transaction(s.cp, s.clock, s.transaction_id, minutes(61), 13_500, "Local")


async def finish(s: Session) -> None:
    """The rest of the session after the last step: the capture, if a fault held it back."""
    if s.capture_fault is not None:
        s.clock.set(minutes(1))  # past the capture's back-off
        await sweep(s.server)
    receipt = await settled(s.server, s.reservation_id, "Captured")
    assert (receipt["capturedCents"], receipt["releasedCents"]) == (
        EXPECTED_CENTS,
        IDLE_HOLD - EXPECTED_CENTS,
    )
    assert s.paid is not None
    await assert_captured(s.stripe_sim, s.paid, EXPECTED_CENTS, IDLE_HOLD)
    # Sweeping again, later, changes nothing.
    s.clock.set(minutes(24 * 60))
    await sweep(s.server)
    assert (await status(s.server, s.reservation_id))["receipt"]["capturedCents"] == EXPECTED_CENTS
    await assert_captured(s.stripe_sim, s.paid, EXPECTED_CENTS, IDLE_HOLD)


@pytest.mark.parametrize(
    ("restart_in", "capture_fault"),
    [
        (None, None),
        ("PendingPayment", None),
        ("Authorized", None),
        ("StartRequested", None),
        ("Charging", None),
        ("WaitingForDisconnect", None),
        ("Completed", "error"),
        ("Completed", "timeout"),
    ],
    ids=lambda value: str(value),
)
async def test_a_restart_changes_no_amount(
    settings: Settings,
    server_socket: tuple[socket.socket, str],
    stripe_sim: StripeSim,
    restart_in: str | None,
    capture_fault: str | None,
) -> None:
    clock = SteppedClock()
    sock = reusable(server_socket[0])
    port = sock.getsockname()[1]
    steps = iter(STEPS)

    async with running_server(settings, sock, clock) as first:
        first_chargers = ChargerFactory(first)
        await price_station(first, IDLE_TARIFF)
        cp = await connect(first_chargers, clock)
        session = Session(first, cp, clock, stripe_sim, capture_fault)
        for name, step in steps:
            await step(session)
            if name == restart_in:
                break
        if restart_in is None:
            await finish(session)
    assert await first_chargers.close_all() == []
    if restart_in is None:
        return

    async with running_server(settings, socket_on(port), clock) as second:
        second_chargers = ChargerFactory(second)
        await reconnect(session, second, second_chargers)
        assert await session.reservation_status() == restart_in
        for _, step in steps:
            await step(session)
        await finish(session)
    assert await second_chargers.close_all() == []


async def test_a_payment_made_while_the_server_is_down_is_confirmed_after_the_restart(
    settings: Settings, server_socket: tuple[socket.socket, str], stripe_sim: StripeSim
) -> None:
    clock = SteppedClock()
    sock = reusable(server_socket[0])
    port = sock.getsockname()[1]
    async with running_server(settings, sock, clock) as first:
        first_chargers = ChargerFactory(first)
        await price_station(first, IDLE_TARIFF)
        session = Session(first, await connect(first_chargers, clock), clock, stripe_sim)
        await created(session)
    assert await first_chargers.close_all() == []

    # The driver pays; the webhook finds no server.
    assert (await stripe_sim.pay(session.created["checkoutUrl"])).status_code == 303
    checkout_id = checkout_session_id(session.created["checkoutUrl"])
    session.paid = Paid(session.reservation_id, checkout_id, session.created)

    async with running_server(settings, socket_on(port), clock) as second:
        second_chargers = ChargerFactory(second)
        await reconnect(session, second, second_chargers)
        confirmed = await second.api.post(
            "/API/Payments/Confirm",
            json={"reservationId": session.reservation_id, "checkoutSessionId": checkout_id},
        )
        assert confirmed.status_code == 200, confirmed.text
        await stage_is(second, session.reservation_id, "awaitingPlug")
        for step in (start_requested, charging, waiting_for_disconnect, completed):
            await step(session)
        await finish(session)
    assert await second_chargers.close_all() == []


# --- two drivers, one connector -------------------------------------------------------------


async def test_drivers_racing_for_a_connector_leave_exactly_one_winner(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    clock: SteppedClock,
) -> None:
    await price_station(server, TARIFF)
    await connect(charger, clock)

    answers = await asyncio.gather(*(create_answer(server, tag=f"DRIVER-{n}") for n in range(24)))

    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200] + [409] * 23, [answer.text for answer in answers]
    winner = next(answer.json() for answer in answers if answer.status_code == 200)
    assert winner["status"] == "Redirect"
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["status"] == "ConnectorBusy"
    async with server.runtime.db.session() as db:
        rows = (await db.scalars(select(PaymentReservation))).all()
    assert [row.id for row in rows] == [winner["reservationId"]]

    # The database itself refuses a second active reservation on the connector.
    copy = copy_of(rows[0], id="second-reservation", ocpp_id_tag="RSECOND")
    with pytest.raises(ConnectorBusy):
        await reservations.insert(server.runtime.db, copy)
    # Ended reservations are history: any number of them may name the connector.
    ended = copy_of(rows[0], id="ended-reservation", ocpp_id_tag="RENDED", status="Completed")
    await reservations.insert(server.runtime.db, ended)
    async with server.runtime.db.session() as db:
        count = await db.scalar(select(func.count()).select_from(PaymentReservation))
    assert count == 2

    # The winner pays; its hold is the only one taken.
    paid = await pay(server, stripe_sim, winner)
    assert (await intent(stripe_sim, paid.checkout_url)).amount_capturable == HOLD


# --- a start the payments missed ---------------------------------------------------------------


async def test_a_resent_start_that_the_payments_missed_starts_the_paid_session(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    clock: SteppedClock,
) -> None:
    """The first StartTransaction was stored, then the database went away before the
    payments followed it: the charger got an error for it and resends it (see
    ``ocpp.dispatch``). The resend must start the paid session, or the start
    deadline would release the hold of a car that is charging."""
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    paid = await pay(server, stripe_sim, await create(server))
    await report(cp, clock, 1, "Preparing")
    id_tag = (await next_call(cp, "RemoteStartTransaction"))["id_tag"]
    first = TransactionStart(CP, 1, id_tag, clock.start + minutes(1), 1_000)
    async with server.runtime.db.session() as session:
        stored = await transactions.start(session, first, result="Accepted")

    assert await start_transaction(cp, clock, id_tag, minutes(1), 1_000) == stored.id
    await stage_is(server, paid.reservation_id, "charging")
    assert (await reservation(server, paid.reservation_id)).transaction_id == stored.id


# --- two nodes, one reservation ---------------------------------------------------------------


async def test_a_cancel_on_another_node_while_the_webhook_authorizes_leaves_nothing_held(
    settings: Settings,
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    clock: SteppedClock,
) -> None:
    """The webhook's node asks Stripe about the paid checkout (slowly, here) while the
    driver's cancel lands on another node, where no lock of the first one orders the
    two: the reservation ends cancelled, the charger is never started, and the hold
    goes back once."""
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    created = await create(server)
    await stripe_sim.fault("GET", "/v1/checkout/sessions/", "delay", seconds=1)
    async with running_server(settings, listening_socket()[0], clock) as other:
        assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303

        async def asking_stripe() -> bool:
            return await pending_faults(stripe_sim) == []

        await eventually(asking_stripe)  # the webhook's node waits on Stripe
        cancelled = await post(other, "Cancel", {"reservationId": created["reservationId"]})
        assert cancelled.json()["cancellationApplied"] is True
        await payments_of(other).drain()
    await delivery_over(stripe_sim, "checkout.session.completed")
    await payments_of(server).drain()

    paid = Paid(created["reservationId"], checkout_session_id(created["checkoutUrl"]), created)
    await assert_released(stripe_sim, paid)
    assert len(await events(stripe_sim, "payment_intent.canceled")) == 1
    assert (await status(server, created["reservationId"]))["status"] == "Cancelled"
    assert calls(cp, "RemoteStartTransaction") == []


async def test_confirm_and_the_webhook_on_two_nodes_at_once_send_one_remote_start(
    settings: Settings,
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    clock: SteppedClock,
) -> None:
    """The driver's return lands on one node while the webhook lands on another, both
    ask Stripe about the paid checkout at once (slowly, here), and either node can
    reach the charger, as through a cluster's router. No lock of either process
    orders them: the row lock lets one authorize and claim the start, the other
    finds it claimed, and the charger is asked to start once."""
    await price_station(server, TARIFF)
    here = await connect(charger, clock)
    await report(here, clock, 1, "Preparing")  # plugged in: whoever authorizes starts at once
    created = await create(server)
    await stripe_sim.fault("GET", "/v1/checkout/sessions/", "delay", count=2, seconds=1)
    async with running_server(settings, listening_socket()[0], clock) as other:
        other_chargers = ChargerFactory(other)
        there = await other_chargers(CP)
        assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
        body = {
            "reservationId": created["reservationId"],
            "checkoutSessionId": checkout_session_id(created["checkoutUrl"]),
        }
        confirmed = await post(other, "Confirm", body)
        assert await pending_faults(stripe_sim) == []  # both nodes asked Stripe
        await delivery_over(stripe_sim, "checkout.session.completed")
        await payments_of(server).drain()
        await payments_of(other).drain()
        assert await other_chargers.close_all() == []

    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["reason"] in {"Accepted", "AlreadyRequested"}
    starts = calls(here, "RemoteStartTransaction") + calls(there, "RemoteStartTransaction")
    assert len(starts) == 1, starts
    assert (await status(server, created["reservationId"]))["status"] == "StartRequested"


async def test_a_start_claimed_by_a_node_that_died_is_sent_once_its_claim_runs_out(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    clock: SteppedClock,
) -> None:
    """A node claims a start in the database, then dies before the charger answers.
    While the claim could still be answered, no other path sends the start again;
    once it is older than the command timeout and its margin, the sweep sends it."""
    await price_station(server, TARIFF)
    cp = await connect(charger, clock)
    paid = await pay(server, stripe_sim, await create(server))
    async with server.runtime.db.session() as session:
        row = await reservations.get(session, paid.reservation_id)
        assert row is not None
        row.remote_start_sent_at = clock.now  # the other node's claim, never answered
    await report(cp, clock, 1, "Preparing")
    await sweep(server)
    assert calls(cp, "RemoteStartTransaction") == []
    claim_timeout = server.runtime.settings.ocpp.command_timeout + 10
    clock.set(timedelta(seconds=claim_timeout - 1))
    await sweep(server)
    assert calls(cp, "RemoteStartTransaction") == []

    clock.set(timedelta(seconds=claim_timeout))
    await sweep(server)
    assert len(calls(cp, "RemoteStartTransaction")) == 1
    assert (await status(server, paid.reservation_id))["status"] == "StartRequested"
