"""A payment the browser brings back after its reservation ended, with no webhook to help.

The simulator's webhooks go to a port where nothing listens, so only the
browser's return (``Payments/Confirm``) tells the server that the driver paid.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from integration.payments.payflow import (
    Paid,
    assert_released,
    checkout,
    checkout_session_id,
    clear_faults,
    create,
    money_state_is,
    post,
    priced_charger,
    reservation,
    status,
)
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim, running_stripe_sim


@pytest.fixture
async def stripe_sim() -> AsyncIterator[StripeSim]:
    async with running_stripe_sim("http://127.0.0.1:9/API/Payments/Webhook") as sim:
        yield sim


async def test_a_payment_confirmed_after_the_reservation_ended_is_released_at_once(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    created = await create(server, driver="A")
    reservation_id = created["reservationId"]
    session_id = checkout_session_id(created["checkoutUrl"])
    # Cancelled while Stripe fails the expiry of its checkout: the page stays payable.
    await stripe_sim.fault("POST", f"/v1/checkout/sessions/{session_id}/expire", "error")
    cancelled = await post(server, "Cancel", {"reservationId": reservation_id})
    assert cancelled.json() == {"status": "Cancelled", "cancellationApplied": True}
    await server.app.state.payments.drain()
    await clear_faults(stripe_sim)
    assert (await checkout(stripe_sim, created["checkoutUrl"])).status == "open"
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303

    body = {"reservationId": reservation_id, "checkoutSessionId": session_id}
    confirmed = await post(server, "Confirm", body)

    assert (confirmed.status_code, confirmed.json()) == (
        409,
        {"status": "PaidLate", "error": "PaidLate"},
    )
    await assert_released(stripe_sim, Paid(reservation_id, session_id, created))
    await money_state_is(server, reservation_id, "Released")
    view = await status(server, reservation_id)
    assert (view["status"], view["paidLate"], view["authorizedCents"]) == ("Cancelled", True, None)
    # The browser comes back again: the same answer, nothing more happens.
    again = await post(server, "Confirm", body)
    assert again.json()["status"] == "PaidLate"
    assert (await reservation(server, reservation_id)).money_state == "Released"
