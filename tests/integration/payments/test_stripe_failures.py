"""Stripe failing on the money calls: 5xx and timeouts on capture, cancel and expire.

Faults are injected in the simulator (``/_sim/faults``); the gateway's timeout
is ``GATEWAY_TIMEOUT``, so a delay of ``PAST_TIMEOUT`` is a timeout whose request
still runs at Stripe afterwards, as when only the answer is lost. The sweeps retry; whatever
happens, the hold is captured once for the right amount or released, and
what cannot be resolved is left held and marked for review.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import select

from chargers import TestCharger
from integration.payments.payflow import (
    DUE,
    HOLD,
    METER_START,
    assert_nothing_held,
    checkout,
    clear_faults,
    create,
    create_and_pay,
    create_answer,
    event_payload,
    events,
    intent,
    pending_faults,
    post,
    post_webhook,
    priced_charger,
    reservation,
    signature,
    start_charging,
    status,
    stop_charging,
    sweep_until_settled,
)
from ocpp_core.config import PaymentSettings
from ocpp_core.db.models import PaymentReservation
from ocpp_core.payments import sweeps
from servers import ConnectCharger, RunningServer
from stripe_harness import PAST_TIMEOUT, StripeSim, eventually

MAX_ATTEMPTS = 3
TIMEOUT_DELAY = PAST_TIMEOUT  # the gateway gives up; the simulator still runs the call
INTENTS = "/v1/payment_intents/"
SESSIONS = "/v1/checkout/sessions/"


@pytest.fixture
def payment_settings(payment_settings: PaymentSettings) -> PaymentSettings:
    return payment_settings.model_copy(update={"max_attempts": MAX_ATTEMPTS})


async def charged(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> tuple[TestCharger, dict[str, Any], int, str]:
    cp = await priced_charger(server, charger)
    created = (await create_and_pay(server, stripe_sim)).created
    transaction_id, id_tag = await start_charging(server, cp, created["reservationId"])
    return cp, created, transaction_id, id_tag


async def outlive(started: float, delay: float = TIMEOUT_DELAY) -> None:
    """Let a delayed call finish at the simulator, so its late effect (if any) is visible."""
    await asyncio.sleep(max(0.0, started + delay + 0.2 - time.monotonic()))


async def assert_captured_exactly_once(
    server: RunningServer, stripe_sim: StripeSim, created: dict[str, Any]
) -> None:
    receipt = (await status(server, created["reservationId"]))["receipt"]
    assert (receipt["moneyState"], receipt["capturedCents"], receipt["releasedCents"]) == (
        "Captured",
        DUE,
        HOLD - DUE,
    )
    held = await intent(stripe_sim, created["checkoutUrl"])
    assert (held.status, held.amount, held.amount_received) == ("succeeded", HOLD, DUE)
    assert len(await events(stripe_sim, "payment_intent.succeeded")) == 1
    await assert_nothing_held(stripe_sim, created["checkoutUrl"])


async def assert_released(
    server: RunningServer, stripe_sim: StripeSim, created: dict[str, Any]
) -> None:
    assert (await reservation(server, created["reservationId"])).money_state == "Released"
    held = await intent(stripe_sim, created["checkoutUrl"])
    assert (held.status, held.amount_received, held.amount_capturable) == ("canceled", 0, 0)
    assert len(await events(stripe_sim, "payment_intent.canceled")) == 1
    await assert_nothing_held(stripe_sim, created["checkoutUrl"])


# Capture


async def test_a_capture_that_gets_5xx_is_retried_by_the_sweep_and_captured_once(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp, created, transaction_id, id_tag = await charged(server, charger, stripe_sim)
    await stripe_sim.fault("POST", INTENTS, "error", count=MAX_ATTEMPTS - 1)
    await stop_charging(cp, transaction_id, id_tag)

    row = await sweep_until_settled(server, created["reservationId"])
    assert (row.money_state, row.money_attempts) == ("Captured", MAX_ATTEMPTS - 1)
    assert await pending_faults(stripe_sim) == []
    await assert_captured_exactly_once(server, stripe_sim, created)
    # Sweeping again finds nothing to do.
    await sweeps.sweep_once(server.app.state.payments)
    await assert_captured_exactly_once(server, stripe_sim, created)


async def test_a_capture_that_times_out_after_stripe_ran_it_is_not_captured_twice(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp, created, transaction_id, id_tag = await charged(server, charger, stripe_sim)
    await stripe_sim.fault("POST", INTENTS, "delay", count=1, seconds=TIMEOUT_DELAY)
    started = time.monotonic()
    await stop_charging(cp, transaction_id, id_tag)

    row = await sweep_until_settled(server, created["reservationId"])
    assert row.money_state == "Captured"
    assert row.money_attempts == 1  # one timed out, the retry (same idempotency key) captured
    await outlive(started)
    await assert_captured_exactly_once(server, stripe_sim, created)


async def test_a_capture_that_keeps_failing_is_left_held_for_review_after_max_attempts(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp, created, transaction_id, id_tag = await charged(server, charger, stripe_sim)
    await stripe_sim.fault("POST", INTENTS, "error", count=10)
    await stop_charging(cp, transaction_id, id_tag)

    row = await sweep_until_settled(server, created["reservationId"])
    assert (row.money_state, row.money_attempts, row.amount_due_cents) == (
        "ReviewRequired",
        MAX_ATTEMPTS,
        DUE,
    )
    assert row.money_last_error
    receipt = (await status(server, created["reservationId"]))["receipt"]
    assert (receipt["moneyState"], receipt["amountDueCents"], receipt["capturedCents"]) == (
        "ReviewRequired",
        DUE,
        None,
    )
    # Nothing was taken and nothing given back: the hold waits for a person.
    held = await intent(stripe_sim, created["checkoutUrl"])
    assert (held.status, held.amount_capturable, held.amount_received) == (
        "requires_capture",
        HOLD,
        0,
    )
    # The sweeps stop trying: no further attempt uses up a fault.
    left = await pending_faults(stripe_sim)
    await sweeps.sweep_once(server.app.state.payments)
    assert await pending_faults(stripe_sim) == left
    assert (await reservation(server, created["reservationId"])).money_attempts == MAX_ATTEMPTS


async def test_a_late_hold_event_does_not_release_a_capture_under_review(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    """The driver owes 6.00; a capture under review must not be turned into a release.

    ``payment_intent.amount_capturable_updated`` arriving late (a retried
    delivery whose earlier attempts failed) is an out-of-order event and
    must change no amount.
    """
    cp, created, transaction_id, id_tag = await charged(server, charger, stripe_sim)
    await stripe_sim.fault("POST", INTENTS, "error", count=10)
    await stop_charging(cp, transaction_id, id_tag)
    row = await sweep_until_settled(server, created["reservationId"])
    assert row.money_state == "ReviewRequired"
    await clear_faults(stripe_sim)

    held = (await events(stripe_sim, "payment_intent.amount_capturable_updated"))[0]
    payload = event_payload(held["type"], held["data"]["object"])
    answer = await post_webhook(server, payload, signature(payload))
    assert answer.status_code == 200
    await server.app.state.payments.drain()

    assert (await reservation(server, created["reservationId"])).money_state == "ReviewRequired"
    still = await intent(stripe_sim, created["checkoutUrl"])
    assert (still.status, still.amount_capturable) == ("requires_capture", HOLD)


# Release of a paid hold (cancel) and of an unpaid checkout (expire)


async def test_a_release_that_gets_5xx_is_retried_until_the_hold_is_canceled(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    created = (await create_and_pay(server, stripe_sim)).created
    await stripe_sim.fault("POST", INTENTS, "error", count=MAX_ATTEMPTS - 1)
    cancelled = await post(server, "Cancel", {"reservationId": created["reservationId"]})
    assert cancelled.json() == {"status": "Cancelled", "cancellationApplied": True}

    row = await sweep_until_settled(server, created["reservationId"])
    assert (row.status, row.money_attempts) == ("Cancelled", MAX_ATTEMPTS - 1)
    await assert_released(server, stripe_sim, created)


async def test_a_release_that_times_out_cancels_the_hold_once(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    created = (await create_and_pay(server, stripe_sim)).created
    await stripe_sim.fault("POST", INTENTS, "delay", count=1, seconds=TIMEOUT_DELAY)
    started = time.monotonic()
    await post(server, "Cancel", {"reservationId": created["reservationId"]})

    await sweep_until_settled(server, created["reservationId"])
    await outlive(started)
    await assert_released(server, stripe_sim, created)


async def test_a_release_that_keeps_failing_is_marked_for_review_with_the_hold_intact(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    created = (await create_and_pay(server, stripe_sim)).created
    await stripe_sim.fault("POST", INTENTS, "error", count=10)
    await post(server, "Cancel", {"reservationId": created["reservationId"]})

    row = await sweep_until_settled(server, created["reservationId"])
    assert (row.money_state, row.money_attempts) == ("ReviewRequired", MAX_ATTEMPTS)
    held = await intent(stripe_sim, created["checkoutUrl"])
    assert (held.status, held.amount_capturable, held.amount_received) == (
        "requires_capture",
        HOLD,
        0,
    )


async def test_a_checkout_that_times_out_after_its_start_was_replaced_keeps_why_it_ended(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    """The driver starts again while Stripe sits on the first start's Checkout Session.

    The first reservation ends as replaced; the request's failure, coming after,
    must not rewrite that into a checkout failure nor touch the new reservation.
    """
    await priced_charger(server, charger)
    await stripe_sim.fault("POST", "/v1/checkout/sessions", "delay", seconds=TIMEOUT_DELAY)
    started = time.monotonic()
    first_start = asyncio.create_task(create_answer(server, driver="A"))

    async def at_stripe() -> bool:
        return await pending_faults(stripe_sim) == []

    await eventually(at_stripe)
    second = await create(server, driver="A")

    answer = await first_start
    assert (answer.status_code, answer.json()["status"]) == (502, "PaymentProviderError")
    async with server.runtime.db.session() as session:
        query = select(PaymentReservation.id).where(PaymentReservation.driver_key == "A")
        first_id = (set(await session.scalars(query)) - {second["reservationId"]}).pop()
    first = await status(server, first_id)
    assert (first["status"], first["failureCode"], first["money"]["state"]) == (
        "Abandoned",
        "Replaced",
        None,  # it never had a checkout: nothing to release
    )
    assert (await status(server, second["reservationId"]))["status"] == "PendingPayment"
    await outlive(started)


@pytest.mark.parametrize("kind", ["error", "delay"])
async def test_expiring_an_unpaid_checkout_survives_5xx_and_timeouts(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, kind: str
) -> None:
    await priced_charger(server, charger)
    created = await create(server)
    count = MAX_ATTEMPTS - 1 if kind == "error" else 1
    await stripe_sim.fault("POST", SESSIONS, kind, count=count, seconds=TIMEOUT_DELAY)
    started = time.monotonic()
    cancelled = await post(server, "Cancel", {"reservationId": created["reservationId"]})
    assert cancelled.json()["cancellationApplied"] is True

    row = await sweep_until_settled(server, created["reservationId"])
    assert row.money_state == "Released"
    if kind == "delay":
        await outlive(started)
    session = await checkout(stripe_sim, created["checkoutUrl"])
    assert (session.status, session.payment_intent) == ("expired", None)
    assert len(await events(stripe_sim, "checkout.session.expired")) == 1
    paying = await stripe_sim.pay(created["checkoutUrl"])
    assert paying.status_code == 400  # the driver can no longer pay it


# The minimum energy


async def test_a_session_below_the_minimum_energy_captures_nothing_and_releases_the_hold(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp, created, transaction_id, id_tag = await charged(server, charger, stripe_sim)
    await stop_charging(cp, transaction_id, id_tag, meter_stop=METER_START + 499)

    row = await sweep_until_settled(server, created["reservationId"])
    assert (row.status, row.money_state, row.amount_due_cents) == ("Completed", "Released", 0)
    view = await status(server, created["reservationId"])
    assert (view["sessionStage"], view["energyWh"]) == ("done", 499)
    receipt = view["receipt"]
    assert (receipt["capturedCents"], receipt["releasedCents"], receipt["amountDueCents"]) == (
        None,
        HOLD,
        0,
    )
    await assert_released(server, stripe_sim, created)
    assert await events(stripe_sim, "payment_intent.succeeded") == []


async def test_a_session_at_the_minimum_energy_is_charged(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp, created, transaction_id, id_tag = await charged(server, charger, stripe_sim)
    await stop_charging(cp, transaction_id, id_tag, meter_stop=METER_START + 500)

    await sweep_until_settled(server, created["reservationId"])
    # 0.5 kWh x 0.40 EUR + 1.00 EUR session fee.
    receipt = (await status(server, created["reservationId"]))["receipt"]
    assert (receipt["capturedCents"], receipt["releasedCents"]) == (120, HOLD - 120)
    held = await intent(stripe_sim, created["checkoutUrl"])
    assert (held.status, held.amount_received) == ("succeeded", 120)
