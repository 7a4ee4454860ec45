"""A driver who cancels, comes back, is declined, or walks away from the checkout.

Each test ends with the money at Stripe: an unpaid Checkout Session expired
(so it can no longer take the card), a paid hold canceled, or exactly the
delivered amount captured.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from integration.payments.payflow import (
    DUE,
    HOLD,
    assert_nothing_held,
    calls,
    checkout,
    connector_status,
    create,
    create_and_pay,
    create_answer,
    events,
    intent,
    money_state_is,
    payments_of,
    pending_faults,
    post,
    priced_charger,
    reservation,
    set_clock,
    stage_is,
    start_charging,
    status,
    stop_charging,
    sweep_until_settled,
)
from ocpp_core.clock import utc_now
from ocpp_core.config import PaymentSettings
from ocpp_core.payments import sweeps
from servers import ConnectCharger, RunningServer
from stripe_harness import CARD_DECLINED, StripeSim, eventually

# 7. Cancel, Stop before charging, Resume, a declined card


async def test_cancel_before_paying_expires_the_checkout_and_holds_nothing(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    created = await create(server)
    reservation_id = created["reservationId"]
    body = {"reservationId": reservation_id, "reason": "changed my mind"}

    cancelled = await post(server, "Cancel", body)
    assert cancelled.json() == {"status": "Cancelled", "cancellationApplied": True}
    await money_state_is(server, reservation_id, "Released")
    session = await checkout(stripe_sim, created["checkoutUrl"])
    assert (session.status, session.payment_intent) == ("expired", None)
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 400

    view = await status(server, reservation_id)
    assert (view["status"], view["sessionStage"], view["failureCode"]) == (
        "Cancelled",
        "error",
        "Cancelled",
    )
    assert view["failureMessage"] == "changed my mind"
    again = await post(server, "Cancel", body)
    assert again.json() == {"status": "Cancelled", "cancellationApplied": False}
    resumed = (await post(server, "Resume", body)).json()
    assert (resumed["status"], resumed["locksConnector"], resumed["checkoutUrl"]) == (
        "Cancelled",
        False,
        None,
    )
    # The connector is free again for the next driver.
    assert (await create(server, "WEB-NEXT"))["status"] == "Redirect"
    await assert_nothing_held(stripe_sim, created["checkoutUrl"])


@pytest.mark.parametrize("action", ["Cancel", "Stop"])
async def test_cancel_or_stop_after_paying_but_before_charging_releases_the_hold(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, action: str
) -> None:
    cp = await priced_charger(server, charger)
    created = (await create_and_pay(server, stripe_sim)).created
    reservation_id = created["reservationId"]
    assert (await intent(stripe_sim, created["checkoutUrl"])).amount_capturable == HOLD

    answer = (await post(server, action, {"reservationId": reservation_id})).json()
    assert (answer["status"], answer["cancellationApplied"]) == ("Cancelled", True)
    await money_state_is(server, reservation_id, "Released")
    held = await intent(stripe_sim, created["checkoutUrl"])
    assert (held.status, held.amount_capturable, held.amount_received) == ("canceled", 0, 0)
    await assert_nothing_held(stripe_sim, created["checkoutUrl"])
    assert (await status(server, reservation_id))["status"] == "Cancelled"

    # Plugging in afterwards starts nothing.
    await connector_status(cp, "Preparing")
    await payments_of(server).drain()
    assert calls(cp, "RemoteStartTransaction") == []
    # The payment_intent.canceled webhook that follows changes nothing either.
    assert len(await events(stripe_sim, "payment_intent.canceled")) == 1
    assert (await reservation(server, reservation_id)).money_state == "Released"


async def test_resume_sends_the_driver_back_to_an_open_checkout_then_to_the_status(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    created = await create(server)
    body = {"reservationId": created["reservationId"]}

    resumed = (await post(server, "Resume", body)).json()
    assert resumed == {
        "status": "Redirect",
        "reservationId": created["reservationId"],
        "reservationStatus": "PendingPayment",
        "locksConnector": True,
        "checkoutUrl": created["checkoutUrl"],
    }
    assert (await stripe_sim.pay(resumed["checkoutUrl"])).status_code == 303
    await stage_is(server, created["reservationId"], "awaitingPlug")

    resumed = (await post(server, "Resume", body)).json()
    assert (resumed["status"], resumed["reservationStatus"], resumed["checkoutUrl"]) == (
        "Status",
        "Authorized",
        None,
    )
    unknown = await post(server, "Resume", {"reservationId": "no-such-reservation"})
    assert unknown.status_code == 404


async def test_a_declined_card_keeps_the_reservation_and_a_good_card_then_pays(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger)
    created = await create(server)
    reservation_id = created["reservationId"]

    declined = await stripe_sim.pay(created["checkoutUrl"], CARD_DECLINED)
    assert declined.status_code == 402

    async def decline_seen() -> bool:
        message = (await status(server, reservation_id))["failureMessage"]
        return bool(message == "Your card was declined.")

    await eventually(decline_seen)
    view = await status(server, reservation_id)
    assert (view["status"], view["sessionStage"], view["authorizedCents"]) == (
        "PendingPayment",
        "waiting",
        None,
    )
    tried = await intent(stripe_sim, created["checkoutUrl"])
    assert (tried.status, tried.amount_capturable) == ("requires_payment_method", 0)
    resumed = (await post(server, "Resume", {"reservationId": reservation_id})).json()
    assert resumed["status"] == "Redirect"

    assert (await stripe_sim.pay(resumed["checkoutUrl"])).status_code == 303
    await stage_is(server, reservation_id, "awaitingPlug")
    view = await status(server, reservation_id)
    assert (view["authorizedCents"], view["failureMessage"]) == (HOLD, None)
    transaction_id, id_tag = await start_charging(server, cp, reservation_id)
    await stop_charging(cp, transaction_id, id_tag)
    await money_state_is(server, reservation_id, "Captured")
    receipt = (await status(server, reservation_id))["receipt"]
    assert (receipt["capturedCents"], receipt["releasedCents"]) == (DUE, HOLD - DUE)
    held = await intent(stripe_sim, created["checkoutUrl"])
    assert (held.id, held.status, held.amount_received) == (tried.id, "succeeded", DUE)
    await assert_nothing_held(stripe_sim, created["checkoutUrl"])


# 8. The checkout abandoned


async def test_an_unpaid_reservation_is_abandoned_after_the_timeout_and_its_checkout_expired(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    payment_settings: PaymentSettings,
) -> None:
    await priced_charger(server, charger)
    created = await create(server)
    reservation_id = created["reservationId"]
    created_at = (await reservation(server, reservation_id)).created_at
    timeout = timedelta(minutes=payment_settings.pending_payment_timeout_minutes)

    set_clock(server, created_at + timeout - timedelta(seconds=1))
    await sweeps.sweep_once(payments_of(server))
    assert (await status(server, reservation_id))["status"] == "PendingPayment"
    assert (await checkout(stripe_sim, created["checkoutUrl"])).status == "open"

    set_clock(server, created_at + timeout + timedelta(seconds=1))
    row = await sweep_until_settled(server, reservation_id)
    assert (row.status, row.failure_code, row.money_state) == ("Abandoned", "NotPaid", "Released")
    session = await checkout(stripe_sim, created["checkoutUrl"])
    assert (session.status, session.payment_intent) == ("expired", None)
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 400
    view = await status(server, reservation_id)
    assert (view["status"], view["sessionStage"]) == ("Abandoned", "error")
    # The expiry's own webhook arrives and changes nothing.
    assert len(await events(stripe_sim, "checkout.session.expired")) == 1
    assert (await reservation(server, reservation_id)).status == "Abandoned"

    # Sweeping again does nothing more, and the connector is free again.
    await sweeps.sweep_once(payments_of(server))
    assert len(await events(stripe_sim, "checkout.session.expired")) == 1
    assert (await create_answer(server, "WEB-NEXT")).json()["status"] == "Redirect"
    await assert_nothing_held(stripe_sim, created["checkoutUrl"])


async def test_a_payment_verified_while_the_sweep_abandons_leaves_a_consistent_reservation(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    payment_settings: PaymentSettings,
) -> None:
    """The webhook authorizes a payment made at the last moment while the sweep, which
    selected the reservation as unpaid a moment earlier, waits for it.

    The sweep must leave the reservation that moved on alone (it used to raise
    IllegalTransition Authorized -> Abandoned and end the sweep round there).
    """
    await priced_charger(server, charger)
    created = await create(server)
    reservation_id = created["reservationId"]
    created_at = (await reservation(server, reservation_id)).created_at
    # The webhook's check of the session is slow, so the sweep meets it half-way.
    await stripe_sim.fault("GET", "/v1/checkout/sessions/", "delay", count=1, seconds=1)
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303

    async def webhook_checking() -> bool:
        return await pending_faults(stripe_sim) == []

    await eventually(webhook_checking)
    assert (await reservation(server, reservation_id)).status == "PendingPayment"
    timeout = timedelta(minutes=payment_settings.pending_payment_timeout_minutes)
    set_clock(server, created_at + timeout + timedelta(seconds=1))
    await sweeps.sweep_once(payments_of(server))  # must not raise
    await payments_of(server).drain()

    row = await sweep_until_settled(server, reservation_id)
    assert (row.status, row.money_state, row.authorized_cents) == ("Authorized", None, HOLD)
    assert (await status(server, reservation_id))["sessionStage"] == "awaitingPlug"
    held = await intent(stripe_sim, created["checkoutUrl"])
    assert (held.status, held.amount_capturable) == ("requires_capture", HOLD)


async def test_the_checkout_lives_at_least_stripes_minimum_and_expires_before_the_sweep_abandons(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    payment_settings: PaymentSettings,
) -> None:
    """Stripe counts its 30-minute minimum from when it creates the session; a server
    clock a little behind Stripe's (or a slow request) must not make Create fail."""
    await priced_charger(server, charger)
    set_clock(server, utc_now() - timedelta(seconds=2))
    created = await create(server)
    assert created["status"] == "Redirect"
    session = await checkout(stripe_sim, created["checkoutUrl"])
    assert session.expires_at - session.created >= 30 * 60
    created_at = (await reservation(server, created["reservationId"])).created_at
    abandon_at = created_at + timedelta(minutes=payment_settings.pending_payment_timeout_minutes)
    assert session.expires_at < abandon_at.timestamp()
