"""Payments that only the driver's browser (Confirm, Resume, a new start) brings back.

The simulator's webhooks go to a port where nothing listens, so the server
learns of a payment only when a driver's request makes it ask Stripe.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from integration.payments.payflow import (
    HOLD,
    assert_nothing_held,
    checkout_session_id,
    connector_status,
    create,
    create_answer,
    intent,
    post,
    priced_charger,
    status,
)
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim, running_stripe_sim


@pytest.fixture
async def stripe_sim() -> AsyncIterator[StripeSim]:
    async with running_stripe_sim("http://127.0.0.1:9/API/Payments/Webhook") as sim:
        yield sim


def confirm_body(created: dict[str, str]) -> dict[str, str]:
    return {
        "reservationId": created["reservationId"],
        "checkoutSessionId": checkout_session_id(created["checkoutUrl"]),
    }


async def test_resume_of_a_paid_checkout_sends_the_driver_to_confirm_not_to_pay_again(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    created = await create(server)
    body = {"reservationId": created["reservationId"]}
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303

    await stripe_sim.fault("GET", "/v1/checkout/sessions/", "error")
    resumed = (await post(server, "Resume", body)).json()
    assert (resumed["status"], resumed["checkoutUrl"], resumed["locksConnector"]) == (
        "StripeError",
        None,
        True,
    )
    resumed = (await post(server, "Resume", body)).json()
    assert (resumed["status"], resumed["checkoutUrl"]) == ("ResumeUnavailable", None)

    confirmed = await post(server, "Confirm", confirm_body(created))
    assert confirmed.json() == {"status": "Authorized", "reason": "AwaitingPlug"}
    assert (await intent(stripe_sim, created["checkoutUrl"])).amount_capturable == HOLD


async def test_a_payment_canceled_at_stripe_before_the_return_fails_the_reservation(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    """The hold was canceled in Stripe's dashboard: nothing to charge with, the connector frees."""
    await priced_charger(server, charger)
    created = await create(server)
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
    held = await intent(stripe_sim, created["checkoutUrl"])
    await stripe_sim.client.v1.payment_intents.cancel_async(held.id)

    confirmed = await post(server, "Confirm", confirm_body(created))

    assert (confirmed.status_code, confirmed.json()) == (
        400,
        {"status": "canceled", "error": "canceled"},
    )
    view = await status(server, created["reservationId"])
    assert (view["status"], view["failureCode"], view["authorizedCents"]) == (
        "Failed",
        "UnexpectedPaymentStatus",
        None,
    )
    assert (await create(server, "WEB-NEXT"))["status"] == "Redirect"
    await assert_nothing_held(stripe_sim, created["checkoutUrl"])


async def test_confirming_a_cancelled_unpaid_reservation_claims_no_late_payment(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    created = await create(server)
    cancelled = await post(server, "Cancel", {"reservationId": created["reservationId"]})
    assert cancelled.json()["cancellationApplied"] is True
    await server.app.state.payments.drain()

    confirmed = await post(server, "Confirm", confirm_body(created))

    assert (confirmed.status_code, confirmed.json()) == (
        400,
        {"status": "Cancelled", "error": "Cancelled"},
    )
    view = await status(server, created["reservationId"])
    assert (view["status"], view["paidLate"]) == ("Cancelled", False)
    await assert_nothing_held(stripe_sim, created["checkoutUrl"])


async def test_a_drivers_paid_reservation_stands_when_they_start_at_another_connector(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    """Their next start would replace an unpaid one; this one was paid, so it is authorized."""
    cp = await priced_charger(server, charger)
    await connector_status(cp, "Available", 2)
    first = await create(server, driver="A")
    assert (await stripe_sim.pay(first["checkoutUrl"])).status_code == 303

    second = await create(server, connector=2, driver="A")

    view = await status(server, first["reservationId"])
    assert (view["status"], view["sessionStage"], view["authorizedCents"]) == (
        "Authorized",
        "awaitingPlug",
        HOLD,
    )
    assert (await intent(stripe_sim, first["checkoutUrl"])).status == "requires_capture"
    assert (await status(server, second["reservationId"]))["status"] == "PendingPayment"


async def test_a_takeover_that_finds_the_earlier_checkout_paid_waits_while_stripe_is_down(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    """Paid, but Stripe can't be asked for the hold: the new start must try again later."""
    await priced_charger(server, charger)
    first = await create(server, driver="A")
    assert (await stripe_sim.pay(first["checkoutUrl"])).status_code == 303
    # The takeover reads the session (it is paid), then fails to read its payment.
    await stripe_sim.fault("GET", "/v1/checkout/sessions/", "delay")
    await stripe_sim.fault("GET", "/v1/checkout/sessions/", "error")

    refused = await create_answer(server, connector=1, driver="A")

    assert (refused.status_code, refused.json()) == (
        503,
        {"status": "TryAgain", "reason": "PaymentProviderUnavailable"},
    )
    assert (await status(server, first["reservationId"]))["status"] == "PendingPayment"
    confirmed = await post(server, "Confirm", confirm_body(first))
    assert confirmed.json() == {"status": "Authorized", "reason": "AwaitingPlug"}
    assert (await intent(stripe_sim, first["checkoutUrl"])).amount_capturable == HOLD
