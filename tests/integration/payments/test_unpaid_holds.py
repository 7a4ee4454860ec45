"""Unpaid reservations hold a connector only briefly, and one driver holds at most one.

A later driver ready to pay takes the connector once the hold is over; the
earlier Checkout Session is expired at Stripe first, so it can no longer be
paid. Money and sessions are read from the Stripe simulator through the SDK.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from integration.payments.payflow import (
    HOLD,
    Paid,
    assert_nothing_held,
    assert_released,
    checkout,
    checkout_session_id,
    clear_faults,
    connector_status,
    copy_of,
    create,
    create_answer,
    delivery_over,
    intent,
    money_state_is,
    pay,
    payments_of,
    priced_charger,
    reservation,
    set_clock,
    status,
    sweep,
)
from ocpp_core.config import PaymentSettings
from ocpp_core.db.models import PaymentReservation
from ocpp_core.payments import reservations
from ocpp_core.payments.reservations import ConnectorBusy
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim

SECOND = timedelta(seconds=1)
BUSY = {"status": "ConnectorBusy", "reason": "ActiveReservation"}


def unpaid_hold(settings: PaymentSettings) -> timedelta:
    return timedelta(minutes=settings.unpaid_hold_minutes)


async def age(server: RunningServer, reservation_id: str, by: timedelta) -> None:
    """Move the server's clock to ``by`` after the reservation was made."""
    set_clock(server, (await reservation(server, reservation_id)).created_at + by)


async def rows(server: RunningServer) -> list[PaymentReservation]:
    async with server.runtime.db.session() as session:
        found = list(await session.scalars(select(PaymentReservation)))
        session.expunge_all()
        return found


def expire_path(checkout_url: str) -> str:
    return f"/v1/checkout/sessions/{checkout_session_id(checkout_url)}/expire"


async def test_within_the_hold_an_unpaid_reservation_keeps_other_drivers_off(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    payment_settings: PaymentSettings,
) -> None:
    await priced_charger(server, charger)
    first = await create(server, driver="A")
    await age(server, first["reservationId"], unpaid_hold(payment_settings) - SECOND)

    refused = await create_answer(server, "WEB-B", driver="B")

    assert (refused.status_code, refused.json()) == (409, BUSY)
    assert (await reservation(server, first["reservationId"])).status == "PendingPayment"
    assert (await checkout(stripe_sim, first["checkoutUrl"])).status == "open"


async def test_after_the_hold_a_driver_ready_to_pay_takes_the_connector(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    payment_settings: PaymentSettings,
) -> None:
    await priced_charger(server, charger)
    first = await create(server, driver="A")
    first_id = first["reservationId"]
    await age(server, first_id, unpaid_hold(payment_settings) + SECOND)

    second = await create(server, "WEB-B", driver="B")

    # The first checkout was expired at Stripe: the first driver can no longer pay it.
    session = await checkout(stripe_sim, first["checkoutUrl"])
    assert (session.status, session.payment_intent) == ("expired", None)
    assert (await stripe_sim.pay(first["checkoutUrl"])).status_code == 400
    await money_state_is(server, first_id, "Released")
    row = await reservation(server, first_id)
    assert (row.status, row.failure_code) == ("Abandoned", "ConnectorTaken")
    view = await status(server, first_id)
    assert (view["sessionStage"], view["failureCode"], view["paidLate"]) == (
        "error",
        "ConnectorTaken",
        False,
    )
    # The second driver pays and holds the connector as any paid driver does.
    paid = await pay(server, stripe_sim, second)
    assert (await intent(stripe_sim, paid.checkout_url)).amount_capturable == HOLD
    refused = await create_answer(server, "WEB-C", driver="C")
    assert (refused.status_code, refused.json()) == (409, BUSY)
    await assert_nothing_held(stripe_sim, first["checkoutUrl"])


async def test_a_takeover_while_stripe_cannot_expire_the_checkout_changes_nothing(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    payment_settings: PaymentSettings,
) -> None:
    await priced_charger(server, charger)
    first = await create(server, driver="A")
    await age(server, first["reservationId"], unpaid_hold(payment_settings) + SECOND)
    await stripe_sim.fault("POST", expire_path(first["checkoutUrl"]), "error")

    refused = await create_answer(server, "WEB-B", driver="B")

    assert (refused.status_code, refused.json()) == (
        503,
        {"status": "TryAgain", "reason": "PaymentProviderUnavailable"},
    )
    # Nothing lost: the first driver still holds the connector and can still pay.
    assert [(r.id, r.status, r.money_state) for r in await rows(server)] == [
        (first["reservationId"], "PendingPayment", None)
    ]
    assert (await checkout(stripe_sim, first["checkoutUrl"])).status == "open"
    # Stripe is back: the next try takes the connector.
    assert (await create(server, "WEB-B", driver="B"))["status"] == "Redirect"
    assert (await checkout(stripe_sim, first["checkoutUrl"])).status == "expired"


async def test_an_earlier_checkout_paid_at_the_last_moment_keeps_the_connector(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    payment_settings: PaymentSettings,
) -> None:
    await priced_charger(server, charger)
    first = await create(server, driver="A")
    first_id = first["reservationId"]
    # The first driver pays, but the webhook can't check it (Stripe fails every attempt).
    await stripe_sim.fault("GET", "/v1/checkout/sessions/", "error", count=4)
    assert (await stripe_sim.pay(first["checkoutUrl"])).status_code == 303
    await delivery_over(stripe_sim, "checkout.session.completed")
    await clear_faults(stripe_sim)
    assert (await reservation(server, first_id)).status == "PendingPayment"
    await age(server, first_id, unpaid_hold(payment_settings) + SECOND)

    refused = await create_answer(server, "WEB-B", driver="B")

    assert (refused.status_code, refused.json()) == (409, BUSY)
    assert [r.id for r in await rows(server)] == [first_id]
    view = await status(server, first_id)
    assert (view["status"], view["authorizedCents"]) == ("Authorized", HOLD)
    held = await intent(stripe_sim, first["checkoutUrl"])
    assert (held.status, held.amount_capturable) == ("requires_capture", HOLD)


async def test_two_drivers_taking_over_at_once_leave_exactly_one_winner(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    payment_settings: PaymentSettings,
) -> None:
    await priced_charger(server, charger)
    first = await create(server, driver="A")
    await age(server, first["reservationId"], unpaid_hold(payment_settings) + SECOND)

    answers = await asyncio.gather(
        *(create_answer(server, f"WEB-{n}", driver=f"D{n}") for n in range(6))
    )

    won = [a.json() for a in answers if a.status_code == 200]
    assert len(won) == 1, [a.text for a in answers]
    assert won[0]["status"] == "Redirect"
    lost = [(a.status_code, a.json()) for a in answers if a.status_code != 200]
    assert lost == [(409, BUSY)] * 5
    found = {r.id: (r.status, r.failure_code) for r in await rows(server)}
    assert found == {
        first["reservationId"]: ("Abandoned", "ConnectorTaken"),
        won[0]["reservationId"]: ("PendingPayment", None),
    }
    assert (await checkout(stripe_sim, first["checkoutUrl"])).status == "expired"
    assert (await checkout(stripe_sim, won[0]["checkoutUrl"])).status == "open"


async def test_a_driver_holds_one_unpaid_reservation_their_next_start_replaces_it(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger)
    for connector in (2, 3):
        await connector_status(cp, "Available", connector)
    first = await create(server, connector=1, driver="D")

    second = await create(server, connector=2, driver="D")

    session = await checkout(stripe_sim, first["checkoutUrl"])
    assert session.status == "expired"
    assert (await stripe_sim.pay(first["checkoutUrl"])).status_code == 400
    row = await reservation(server, first["reservationId"])
    assert (row.status, row.failure_code) == ("Abandoned", "Replaced")
    # The connector it held is free at once for anyone.
    assert (await create_answer(server, "WEB-OTHER", connector=1, driver="E")).status_code == 200

    # Many starts at once from the one driver: still one unpaid reservation in the end.
    answers = await asyncio.gather(
        *(create_answer(server, f"WEB-{n}", connector=2 + n % 2, driver="D") for n in range(6))
    )
    assert {a.status_code for a in answers} <= {200, 409}, [a.text for a in answers]
    await payments_of(server).drain()
    unpaid = [r for r in await rows(server) if r.driver_key == "D" and r.status == "PendingPayment"]
    assert len(unpaid) == 1
    for body in [*(a.json() for a in answers), second]:  # no other checkout takes a card
        if body.get("checkoutUrl") and body["reservationId"] != unpaid[0].id:
            assert (await checkout(stripe_sim, body["checkoutUrl"])).status == "expired"
    # The database itself refuses a second unpaid reservation for the driver.
    with pytest.raises(ConnectorBusy):
        await reservations.insert(
            server.runtime.db, copy_of(unpaid[0], id="second", connector_id=4, ocpp_id_tag="R2")
        )


async def test_a_payment_for_a_reservation_that_lost_its_connector_is_released_at_once(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    payment_settings: PaymentSettings,
) -> None:
    await priced_charger(server, charger)
    first = await create(server, driver="A")
    first_id = first["reservationId"]
    # The sweep abandons it, and Stripe fails the expiry of its checkout (and the retry
    # the same round may make).
    await stripe_sim.fault("POST", expire_path(first["checkoutUrl"]), "error", count=2)
    timeout = timedelta(minutes=payment_settings.pending_payment_timeout_minutes)
    await age(server, first_id, timeout + SECOND)
    await sweep(server)
    await clear_faults(stripe_sim)
    assert (await reservation(server, first_id)).status == "Abandoned"
    assert (await checkout(stripe_sim, first["checkoutUrl"])).status == "open"
    second = await create(server, "WEB-B", driver="B")  # the connector is someone else's

    # The first driver pays on the page still open: the verified webhook gives it back.
    assert (await stripe_sim.pay(first["checkoutUrl"])).status_code == 303

    paid = Paid(first_id, checkout_session_id(first["checkoutUrl"]), first)
    await assert_released(stripe_sim, paid)
    await money_state_is(server, first_id, "Released")
    view = await status(server, first_id)
    assert (view["status"], view["paidLate"], view["authorizedCents"]) == ("Abandoned", True, None)
    assert (await reservation(server, second["reservationId"])).status == "PendingPayment"


async def test_drivers_taking_each_others_connectors_at_once_keep_every_rule(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    payment_settings: PaymentSettings,
) -> None:
    """Each start ends the other's unpaid reservation as well as its own: one lock order."""
    cp = await priced_charger(server, charger)
    await connector_status(cp, "Available", 2)
    await create(server, connector=1, driver="D")
    later = await create(server, connector=2, driver="E")
    await age(server, later["reservationId"], unpaid_hold(payment_settings) + SECOND)

    answers = await asyncio.gather(
        create_answer(server, "WEB-D2", connector=2, driver="D"),
        create_answer(server, "WEB-E1", connector=1, driver="E"),
    )

    assert {a.status_code for a in answers} <= {200, 409}, [a.text for a in answers]
    active = [r for r in await rows(server) if r.status == "PendingPayment"]
    assert len({r.connector_id for r in active}) == len(active)
    assert len({r.driver_key for r in active}) == len(active)
    assert len(active) == sum(a.status_code == 200 for a in answers) >= 1
