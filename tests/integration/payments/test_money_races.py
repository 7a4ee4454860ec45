"""Two nodes on one database acting on the same reservation's money at once.

Each test runs a second server app on the test's database (the first is the
``server`` fixture) with no lock of either process ordering them: only the
claim in the database does. The Stripe simulator counts the calls that reach
it, so "once" is what Stripe saw, not what we recorded.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from integration.payments.payflow import (
    DUE,
    HOLD,
    SteppedClock,
    assert_captured,
    assert_released,
    create_and_pay,
    intent,
    payments_of,
    pending_faults,
    post,
    priced_charger,
    reservation,
    running_server,
    settled,
    start_charging,
    status,
    stop_charging,
    sweep,
)
from ocpp_core.config import Settings
from ocpp_core.payments import money
from servers import ConnectCharger, RunningServer, listening_socket
from stripe_harness import StripeSim, eventually


async def _calls_to(stripe_sim: StripeSim, path: str, method: str = "POST") -> list[dict[str, Any]]:
    return [c for c in await stripe_sim.calls(path) if c["method"] == method]


async def _in_flight(stripe_sim: StripeSim) -> None:
    """Wait until the delayed Stripe call has reached the simulator."""

    async def taken() -> bool:
        return await pending_faults(stripe_sim) == []

    await eventually(taken)


async def test_a_stop_on_one_node_while_another_sweeps_captures_once(
    settings: Settings,
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    clock: SteppedClock,
) -> None:
    """The charger's stop settles the session on its node, whose capture is slow to
    answer; meanwhile the other node's sweep finds the same capture pending and
    leaves it to the node that claimed it: Stripe sees one capture."""
    cp = await priced_charger(server, charger)
    paid = await create_and_pay(server, stripe_sim)
    transaction_id, id_tag = await start_charging(server, cp, paid.reservation_id)
    held = await intent(stripe_sim, paid.checkout_url)
    capture = f"/v1/payment_intents/{held.id}/capture"
    await stripe_sim.fault("POST", capture, kind="delay", seconds=1)
    async with running_server(settings, listening_socket()[0], clock) as other:
        await stop_charging(cp, transaction_id, id_tag)
        await _in_flight(stripe_sim)  # the charger's node is calling Stripe
        await sweep(other)
        assert len(await _calls_to(stripe_sim, capture)) == 1
        await payments_of(server).drain()
        receipt = await settled(other, paid.reservation_id, "Captured")
        await sweep(other)  # a settled capture is nobody's to perform again

    assert (receipt["capturedCents"], receipt["releasedCents"]) == (DUE, HOLD - DUE)
    await assert_captured(stripe_sim, paid, DUE, HOLD)
    assert len(await _calls_to(stripe_sim, capture)) == 1
    assert (await reservation(server, paid.reservation_id)).money_claimed_until is None


async def test_a_cancel_on_one_node_while_another_releases_releases_once(
    settings: Settings,
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    clock: SteppedClock,
) -> None:
    """The driver's cancel releases the hold on one node, slowly; the other node's
    sweep finds the release pending and claimed: Stripe sees one cancel."""
    await priced_charger(server, charger)
    paid = await create_and_pay(server, stripe_sim)
    held = await intent(stripe_sim, paid.checkout_url)
    cancel = f"/v1/payment_intents/{held.id}/cancel"
    await stripe_sim.fault("POST", cancel, kind="delay", seconds=1)
    async with running_server(settings, listening_socket()[0], clock) as other:
        cancelled = await post(server, "Cancel", {"reservationId": paid.reservation_id})
        assert cancelled.json()["cancellationApplied"] is True
        await _in_flight(stripe_sim)
        await sweep(other)
        assert len(await _calls_to(stripe_sim, cancel)) == 1
        await payments_of(server).drain()
        await sweep(other)
        view = await status(other, paid.reservation_id)

    assert view["money"] == {"state": "Released", "capturedCents": None, "releasedCents": HOLD}
    await assert_released(stripe_sim, paid)
    assert len(await _calls_to(stripe_sim, cancel)) == 1


async def test_a_capture_claimed_by_a_node_that_died_is_retried_after_its_lease_with_its_key(
    settings: Settings,
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    clock: SteppedClock,
) -> None:
    """A node claims the capture and calls Stripe, which captures, then dies before
    recording the answer. Until its lease runs out no other node calls Stripe for
    it; then the sweep does, under the same idempotency key, and Stripe's stored
    answer is recorded: the money is captured once."""
    cp = await priced_charger(server, charger)
    paid = await create_and_pay(server, stripe_sim)
    transaction_id, id_tag = await start_charging(server, cp, paid.reservation_id)
    held = await intent(stripe_sim, paid.checkout_url)
    capture = f"/v1/payment_intents/{held.id}/capture"
    await stripe_sim.fault("POST", capture)  # the stop's own capture fails: retried later
    await stop_charging(cp, transaction_id, id_tag)
    await payments_of(server).drain()
    await settled(server, paid.reservation_id, "CapturePending")

    await stripe_sim.fault("POST", capture, kind="delay", seconds=0.5)
    clock.set(timedelta(minutes=1))  # past the failed capture's back-off
    async with running_server(settings, listening_socket()[0], clock) as other:
        dying = asyncio.create_task(money.perform(payments_of(other), paid.reservation_id))
        await _in_flight(stripe_sim)
        dying.cancel()  # the node is gone; Stripe still captures
    await eventually(lambda: _captured_at_stripe(stripe_sim, paid.checkout_url))
    await settled(server, paid.reservation_id, "CapturePending")

    lease = money.lease(payments_of(server))
    clock.set(timedelta(minutes=1) + lease - timedelta(seconds=1))
    await sweep(server)
    assert len(await _calls_to(stripe_sim, capture)) == 2  # the failed one and the dead node's
    clock.set(timedelta(minutes=1) + lease)
    await sweep(server)

    receipt = await settled(server, paid.reservation_id, "Captured")
    assert (receipt["capturedCents"], receipt["releasedCents"]) == (DUE, HOLD - DUE)
    await assert_captured(stripe_sim, paid, DUE, HOLD)
    captures = await _calls_to(stripe_sim, capture)
    assert len(captures) == 3
    keys = {c["idempotency_key"] for c in captures}
    assert len(keys) == 1, keys
    assert None not in keys


async def _captured_at_stripe(stripe_sim: StripeSim, checkout_url: str) -> bool:
    return bool((await intent(stripe_sim, checkout_url)).status == "succeeded")
