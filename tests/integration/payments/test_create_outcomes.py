"""A start whose checkout can't be made, whose station is gone, or that is replaced mid-way.

Stripe is made slow (the simulator's ``delay`` fault) to hold a start inside its
Checkout Session request while the same driver starts again.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, select

from integration.payments.payflow import (
    CP,
    HOLD,
    assert_nothing_held,
    checkout,
    connector_status,
    create,
    create_answer,
    events,
    intent,
    money_state_is,
    payments_of,
    pending_faults,
    post,
    priced_charger,
    reservation,
    stage_is,
    status,
)
from ocpp_core.config import Settings
from ocpp_core.db.models import ChargePoint, PaymentReservation
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim, eventually

CHECKOUT_DELAY = 3.0  # seconds Stripe takes to make the first Checkout Session


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Patient enough to wait out the delayed Checkout Session instead of timing out.
    stripe = settings.stripe.model_copy(update={"timeout": CHECKOUT_DELAY * 3})
    return settings.model_copy(update={"stripe": stripe})


async def test_a_checkout_stripe_fails_to_make_fails_the_reservation_and_frees_the_connector(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    await stripe_sim.fault("POST", "/v1/checkout/sessions", "error")

    failed = await create_answer(server)

    assert failed.status_code == 502
    assert failed.json()["status"] == "PaymentProviderError"
    async with server.runtime.db.session() as session:
        row = await session.scalar(select(PaymentReservation))
        assert row is not None
        assert (row.status, row.failure_code, row.money_state) == ("Failed", "CheckoutFailed", None)
    assert (await create(server, "WEB-NEXT"))["status"] == "Redirect"


async def test_a_station_deleted_while_its_charger_is_connected_takes_no_reservation(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    async with server.runtime.db.session() as session:
        await session.execute(delete(ChargePoint).where(ChargePoint.id == CP))

    refused = await create_answer(server)

    assert (refused.status_code, refused.json()) == (404, {"status": "UnknownChargePoint"})
    assert await events(stripe_sim) == []


async def unpaid_of(server: RunningServer, driver: str) -> PaymentReservation | None:
    async with server.runtime.db.session() as session:
        query = select(PaymentReservation).where(
            PaymentReservation.driver_key == driver,
            PaymentReservation.status == "PendingPayment",
        )
        return await session.scalar(query)


async def test_a_start_replaced_while_stripe_makes_its_checkout_closes_that_checkout(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    await stripe_sim.fault("POST", "/v1/checkout/sessions", "delay", seconds=CHECKOUT_DELAY)
    first_start = asyncio.create_task(create_answer(server, driver="A"))

    async def at_stripe() -> bool:
        return await pending_faults(stripe_sim) == []

    await eventually(at_stripe)
    first = await unpaid_of(server, "A")
    assert first is not None
    # The driver comes back before Stripe answered: there is no checkout to return to yet.
    resumed = (await post(server, "Resume", {"reservationId": first.id})).json()
    assert (resumed["status"], resumed["locksConnector"]) == ("MissingCheckoutSession", True)

    second = await create(server, driver="A")  # the driver starts again: it replaces the first

    answer = await first_start
    assert (answer.status_code, answer.json()) == (
        409,
        {"status": "TryAgain", "reason": "ConcurrentStart"},
    )
    await payments_of(server).drain()
    await money_state_is(server, first.id, "Released")
    view = await status(server, first.id)
    assert (view["status"], view["failureCode"]) == ("Abandoned", "Replaced")
    session_id = (await reservation(server, first.id)).checkout_session_id
    assert session_id is not None  # made by Stripe after all, then closed by the release
    await assert_nothing_held(stripe_sim, f"{stripe_sim.url}/checkout/{session_id}")
    assert (await status(server, second["reservationId"]))["status"] == "PendingPayment"


async def test_a_checkout_paid_while_the_drivers_next_start_expires_it_stays_paid(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    """Stripe refuses to expire a session paid a moment before: the payment is kept, not lost."""
    cp = await priced_charger(server, charger)
    await connector_status(cp, "Available", 2)
    first = await create(server, driver="A")
    await stripe_sim.fault("POST", "/v1/checkout/sessions/", "delay", seconds=CHECKOUT_DELAY)
    next_start = asyncio.create_task(create_answer(server, connector=2, driver="A"))

    async def at_stripe() -> bool:
        return await pending_faults(stripe_sim) == []

    await eventually(at_stripe)  # the expiry is on its way; the driver pays before it lands
    assert (await stripe_sim.pay(first["checkoutUrl"])).status_code == 303
    await stage_is(server, first["reservationId"], "awaitingPlug")  # the webhook authorized it

    second = await next_start

    assert (second.status_code, second.json()["status"]) == (200, "Redirect")
    view = await status(server, first["reservationId"])
    assert (view["status"], view["authorizedCents"]) == ("Authorized", HOLD)
    session = await checkout(stripe_sim, first["checkoutUrl"])
    assert session.status == "complete"
    assert (await intent(stripe_sim, first["checkoutUrl"])).amount_capturable == HOLD
