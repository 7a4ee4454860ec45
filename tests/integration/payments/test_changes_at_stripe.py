"""Holds changed at Stripe behind the server's back, and events that say less than they seem.

An operator may cancel or capture a payment in Stripe's dashboard; a signed
event may name no reservation, or a session Stripe still has open. The server
must neither start a session it can't charge for nor report money it did not
move: what it can't settle is left for review, with the reason.
"""

from __future__ import annotations

from integration.payments.payflow import (
    HOLD,
    assert_nothing_held,
    calls,
    checkout,
    connector_status,
    create,
    create_and_pay,
    delivered,
    event_payload,
    events,
    intent,
    money_state_is,
    post,
    post_webhook,
    priced_charger,
    reservation,
    signature,
    stage_is,
    start_charging,
    status,
    stop_charging,
    stored_event_ids,
)
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim, eventually

CANCELED = "payment_intent.canceled"
CAPTURABLE = "payment_intent.amount_capturable_updated"
COMPLETED = "checkout.session.completed"


async def test_a_hold_canceled_at_stripe_before_charging_ends_the_reservation(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger)
    paid = await create_and_pay(server, stripe_sim)
    held = await intent(stripe_sim, paid.checkout_url)

    await stripe_sim.client.v1.payment_intents.cancel_async(held.id)

    view = await stage_is(server, paid.reservation_id, "error")
    assert (view["status"], view["failureCode"], view["money"]["state"]) == (
        "Failed",
        "PaymentCanceled",
        "Released",
    )
    await connector_status(cp, "Preparing")  # the car arrives: nothing to charge with
    await server.app.state.payments.drain()
    assert calls(cp, "RemoteStartTransaction") == []
    await assert_nothing_held(stripe_sim, paid.checkout_url)


async def test_a_hold_canceled_at_stripe_while_charging_is_left_for_review(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger)
    paid = await create_and_pay(server, stripe_sim)
    transaction_id, id_tag = await start_charging(server, cp, paid.reservation_id)
    held = await intent(stripe_sim, paid.checkout_url)
    await stripe_sim.client.v1.payment_intents.cancel_async(held.id)
    await delivered(stripe_sim, CANCELED)
    assert (await status(server, paid.reservation_id))["status"] == "Charging"

    await stop_charging(cp, transaction_id, id_tag)

    await money_state_is(server, paid.reservation_id, "ReviewRequired")
    row = await reservation(server, paid.reservation_id)
    assert (row.captured_cents, row.money_last_error) == (
        None,
        "capture left the payment canceled",
    )
    after = await intent(stripe_sim, paid.checkout_url)
    assert (after.status, after.amount_received) == ("canceled", 0)


async def test_a_hold_captured_at_stripe_is_not_reported_released_on_cancel(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    paid = await create_and_pay(server, stripe_sim)
    held = await intent(stripe_sim, paid.checkout_url)
    await stripe_sim.client.v1.payment_intents.capture_async(held.id)

    cancelled = await post(server, "Cancel", {"reservationId": paid.reservation_id})
    assert cancelled.json() == {"status": "Cancelled", "cancellationApplied": True}

    await money_state_is(server, paid.reservation_id, "ReviewRequired")
    row = await reservation(server, paid.reservation_id)
    assert (row.released_at, row.money_last_error) == (
        None,
        "cannot release a payment that is succeeded",
    )
    assert (await intent(stripe_sim, paid.checkout_url)).amount_received == HOLD


async def test_a_hold_event_after_the_release_releases_nothing_more(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    paid = await create_and_pay(server, stripe_sim)
    cancelled = await post(server, "Cancel", {"reservationId": paid.reservation_id})
    assert cancelled.json()["cancellationApplied"] is True
    await money_state_is(server, paid.reservation_id, "Released")
    held = (await events(stripe_sim, CAPTURABLE))[0]["data"]["object"]

    payload = event_payload(CAPTURABLE, held)  # an old event, delivered out of order
    answer = await post_webhook(server, payload, signature(payload))

    assert (answer.status_code, answer.json()) == (200, {"status": "Processed"})
    await server.app.state.payments.drain()
    await money_state_is(server, paid.reservation_id, "Released")
    view = await status(server, paid.reservation_id)
    assert (view["status"], view["paidLate"], view["authorizedCents"]) == (
        "Cancelled",
        False,
        HOLD,
    )
    assert len(await events(stripe_sim, CANCELED)) == 1
    await assert_nothing_held(stripe_sim, paid.checkout_url)


async def test_events_that_change_nothing_are_not_remembered_and_leave_the_session_alone(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    """For no known reservation, or a completion repeated (new id) while charging; each
    delivered twice: the second changes nothing either."""
    cp = await priced_charger(server, charger)
    paid = await create_and_pay(server, stripe_sim)
    await start_charging(server, cp, paid.reservation_id)
    stranger = event_payload(CANCELED, {"id": "pi_not_ours", "metadata": {}})
    session = (await checkout(stripe_sim, paid.checkout_url)).to_dict()
    repeated = event_payload(COMPLETED, session)
    stored = await stored_event_ids(server)

    for payload in (stranger, repeated, stranger, repeated):
        answer = await post_webhook(server, payload, signature(payload))
        assert (answer.status_code, answer.json()) == (200, {"status": "Processed"})
    await server.app.state.payments.drain()

    view = await status(server, paid.reservation_id)
    assert (view["status"], view["money"]["state"]) == ("Charging", None)
    assert len(calls(cp, "RemoteStartTransaction")) == 1
    assert await stored_event_ids(server) == stored
    assert (await intent(stripe_sim, paid.checkout_url)).amount_capturable == HOLD


async def test_a_completion_event_for_a_session_stripe_still_has_open_authorizes_nothing(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    created = await create(server)
    session = (await checkout(stripe_sim, created["checkoutUrl"])).to_dict()
    payload = event_payload(COMPLETED, session | {"status": "complete"})

    answer = await post_webhook(server, payload, signature(payload))

    assert (answer.status_code, answer.json()) == (200, {"status": "Processed"})
    await server.app.state.payments.drain()
    view = await status(server, created["reservationId"])
    assert (view["status"], view["authorizedCents"]) == ("PendingPayment", None)
    assert (await checkout(stripe_sim, created["checkoutUrl"])).status == "open"
    # The real payment still goes through.
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303

    async def authorized() -> bool:
        return bool((await status(server, created["reservationId"]))["authorizedCents"] == HOLD)

    await eventually(authorized)


async def test_an_event_of_another_payment_naming_a_reservation_leaves_its_hold_alone(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    """Only the reservation's own PaymentIntent speaks for its hold, whatever a metadata says."""
    cp = await priced_charger(server, charger)
    paid = await create_and_pay(server, stripe_sim)
    claims = {"reservation_id": paid.reservation_id}
    payload = event_payload(CANCELED, {"id": "pi_another_payment", "metadata": claims})

    answer = await post_webhook(server, payload, signature(payload))

    assert (answer.status_code, answer.json()) == (200, {"status": "Processed"})
    view = await status(server, paid.reservation_id)
    assert (view["status"], view["money"]["state"], view["authorizedCents"]) == (
        "Authorized",
        None,
        HOLD,
    )
    assert (await intent(stripe_sim, paid.checkout_url)).status == "requires_capture"
    await start_charging(server, cp, paid.reservation_id)  # the session still starts
