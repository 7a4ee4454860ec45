"""Energy under review keeps the card hold until an operator decides, or the auto-release does.

A paid session whose meter jumped ends Completed with its hold untouched at
Stripe (ReviewRequired). A decision, through ``POST /API/Payments/Review``,
captures an amount up to the hold or releases it, exactly once however many
decide at the same moment; one nobody takes is released a configured time
after the card was authorized. Money is read from the Stripe simulator.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from ocpp.v16 import call

from builders import timestamp
from integration.payments.payflow import (
    HOLD,
    METER_START,
    assert_captured,
    assert_released,
    connector_status,
    create_answer,
    event_payload,
    events,
    intent,
    next_call,
    post_webhook,
    priced_charger,
    reservation,
    set_clock,
    signature,
    stage_is,
    status,
    stop_charging,
    sweep,
)
from integration.payments.reviewflow import (
    JUMPED_WH,
    LAST_PLAUSIBLE_CENTS,
    PLAUSIBLE_WH,
    STOP_WH,
    UnderReview,
    decide,
    meter,
    meter_jumps_and_stops,
    paid_and_charging,
    session_with_a_meter_jump,
)
from ocpp_core.config import PaymentSettings
from ocpp_core.domain.pricing import Tariff
from ocpp_core.payments import decisions, sweeps
from ocpp_core.payments.context import PaymentContext
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim

RELEASE_AFTER_HOURS = 50


@pytest.fixture
def payment_settings(payment_settings: PaymentSettings) -> PaymentSettings:
    return payment_settings.model_copy(update={"review_release_after_hours": RELEASE_AFTER_HOURS})


@pytest.fixture
async def under_review(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> UnderReview:
    return await session_with_a_meter_jump(server, charger, stripe_sim)


async def assert_still_held(stripe_sim: StripeSim, under_review: UnderReview) -> None:
    held = await intent(stripe_sim, under_review.paid.checkout_url)
    assert (held.status, held.amount_capturable, held.amount_received) == (
        "requires_capture",
        HOLD,
        0,
    )


async def test_a_session_whose_meter_jumped_keeps_its_hold_for_review(
    server: RunningServer, stripe_sim: StripeSim, under_review: UnderReview
) -> None:
    await sweep(server)  # nothing in the background settles it either

    view = await status(server, under_review.reservation_id)
    receipt = view["receipt"]
    row = await reservation(server, under_review.reservation_id)
    assert (view["sessionStage"], view["energyWh"], view["costSoFarCents"]) == ("done", None, None)
    assert (receipt["moneyState"], receipt["meterReview"]) == ("ReviewRequired", True)
    assert (receipt["energyWh"], receipt["amountDueCents"], receipt["capturedCents"]) == (
        None,
        None,
        None,
    )
    assert (row.status, row.failure_code, row.failure_message) == (
        "Completed",
        "MeterReview",
        "stop register jump",
    )
    assert (row.review_decision, row.review_decided_at) == (None, None)
    await assert_still_held(stripe_sim, under_review)


async def test_an_operator_captures_the_amount_they_choose(
    server: RunningServer, stripe_sim: StripeSim, under_review: UnderReview
) -> None:
    answer = await decide(server, under_review.reservation_id, "capture", LAST_PLAUSIBLE_CENTS)

    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "Captured"
    assert answer.json()["capturedCents"] == LAST_PLAUSIBLE_CENTS
    await assert_captured(stripe_sim, under_review.paid, LAST_PLAUSIBLE_CENTS, HOLD)
    receipt = (await status(server, under_review.reservation_id))["receipt"]
    assert (receipt["capturedCents"], receipt["releasedCents"]) == (
        LAST_PLAUSIBLE_CENTS,
        HOLD - LAST_PLAUSIBLE_CENTS,
    )
    row = await reservation(server, under_review.reservation_id)
    assert (row.review_decision, row.review_amount_cents, row.review_decided_by) == (
        "Capture",
        LAST_PLAUSIBLE_CENTS,
        "alice",
    )
    assert row.review_decided_at is not None
    again = await decide(server, under_review.reservation_id, "release", by="bob")
    assert (again.status_code, again.json()["status"]) == (409, "NotUnderReview")


async def test_the_whole_hold_may_be_captured(
    server: RunningServer, stripe_sim: StripeSim, under_review: UnderReview
) -> None:
    answer = await decide(server, under_review.reservation_id, "capture", HOLD)

    assert answer.status_code == 200, answer.text
    await assert_captured(stripe_sim, under_review.paid, HOLD, HOLD)


@pytest.mark.parametrize(
    ("amount", "http_status", "refusal"),
    [
        (HOLD + 1, 400, "AmountAboveHold"),
        (0, 400, "AmountNotPositive"),
        (-100, 400, "AmountNotPositive"),
        (None, 400, "AmountRequired"),
        ("4.50", 400, "InvalidParameter"),
        (10**12, 400, "InvalidParameter"),
    ],
)
async def test_an_amount_outside_the_hold_is_refused_and_changes_nothing(
    server: RunningServer,
    stripe_sim: StripeSim,
    under_review: UnderReview,
    amount: object,
    http_status: int,
    refusal: str,
) -> None:
    body = {
        "reservationId": under_review.reservation_id,
        "action": "capture",
        "decidedBy": "alice",
        "amountCents": amount,
    }
    answer = await server.api.post("/API/Payments/Review", json=body)

    assert (answer.status_code, answer.json()["status"]) == (http_status, refusal)
    row = await reservation(server, under_review.reservation_id)
    assert (row.money_state, row.review_decided_at) == ("ReviewRequired", None)
    await assert_still_held(stripe_sim, under_review)


async def test_an_operator_releases_the_hold(
    server: RunningServer, stripe_sim: StripeSim, under_review: UnderReview
) -> None:
    answer = await decide(server, under_review.reservation_id, "release", by="bob")

    assert (answer.status_code, answer.json()["status"]) == (200, "Released")
    await assert_released(stripe_sim, under_review.paid)
    receipt = (await status(server, under_review.reservation_id))["receipt"]
    assert (receipt["capturedCents"], receipt["releasedCents"]) == (None, HOLD)
    row = await reservation(server, under_review.reservation_id)
    assert (row.review_decision, row.review_decided_by) == ("Release", "bob")


async def test_a_session_that_is_not_under_review_can_not_be_decided(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    unknown = await decide(server, "no-such-reservation", "release")

    assert (unknown.status_code, unknown.json()["status"]) == (404, "NotFound")


@pytest.mark.parametrize(
    "event_type", ["payment_intent.amount_capturable_updated", "checkout.session.completed"]
)
async def test_a_late_hold_event_does_not_release_a_hold_under_review(
    server: RunningServer, stripe_sim: StripeSim, under_review: UnderReview, event_type: str
) -> None:
    """A retried delivery of the hold's events must not turn the review into a release."""
    held = (await events(stripe_sim, event_type))[0]
    payload = event_payload(held["type"], held["data"]["object"])

    answer = await post_webhook(server, payload, signature(payload))
    await payments(server).drain()

    assert answer.status_code == 200
    assert (await reservation(server, under_review.reservation_id)).money_state == "ReviewRequired"
    await assert_still_held(stripe_sim, under_review)


def payments(server: RunningServer) -> PaymentContext:
    context: PaymentContext = server.app.state.payments
    return context


async def test_an_undecided_review_is_released_counted_from_the_authorization(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    caplog: pytest.LogCaptureFixture,
) -> None:
    charging = await paid_and_charging(server, charger, stripe_sim)
    # The session ends (and the review begins) ten hours after the card was authorized.
    set_clock(server, server.runtime.clock() + timedelta(hours=10))
    under_review = await meter_jumps_and_stops(server, charging)
    row = await reservation(server, under_review.reservation_id)
    assert row.authorized_at is not None
    authorized = row.authorized_at
    assert row.updated_at - authorized >= timedelta(hours=9)

    set_clock(server, authorized + timedelta(hours=RELEASE_AFTER_HOURS, minutes=-1))
    await sweep(server)
    assert (await reservation(server, under_review.reservation_id)).money_state == "ReviewRequired"
    await assert_still_held(stripe_sim, under_review)

    set_clock(server, authorized + timedelta(hours=RELEASE_AFTER_HOURS, minutes=1))
    with caplog.at_level(logging.WARNING, logger="ocpp_core.payments"):
        await sweep(server)

    await assert_released(stripe_sim, under_review.paid)
    row = await reservation(server, under_review.reservation_id)
    assert (row.money_state, row.review_decision, row.review_decided_by) == (
        "Released",
        "AutoRelease",
        None,
    )
    assert f"reservation {row.id}: meter review undecided {RELEASE_AFTER_HOURS} hours" in (
        caplog.text
    )
    late = await decide(server, under_review.reservation_id, "capture", LAST_PLAUSIBLE_CENTS)
    assert (late.status_code, late.json()["status"]) == (409, "NotUnderReview")


async def test_a_decided_review_is_never_auto_released(
    server: RunningServer, stripe_sim: StripeSim, under_review: UnderReview
) -> None:
    answer = await decide(server, under_review.reservation_id, "capture", LAST_PLAUSIBLE_CENTS)
    assert answer.status_code == 200, answer.text

    set_clock(server, server.runtime.clock() + timedelta(hours=RELEASE_AFTER_HOURS + 1))
    await sweep(server)

    await assert_captured(stripe_sim, under_review.paid, LAST_PLAUSIBLE_CENTS, HOLD)
    assert (await reservation(server, under_review.reservation_id)).review_decision == "Capture"


async def test_the_auto_release_leaves_a_review_decided_after_its_sweep_looked(
    server: RunningServer, stripe_sim: StripeSim, under_review: UnderReview
) -> None:
    """The sweep selected the review undecided; an operator decided before its claim."""
    answer = await decide(server, under_review.reservation_id, "capture", LAST_PLAUSIBLE_CENTS)
    assert answer.status_code == 200, answer.text

    released = await decisions.auto_release(payments(server), under_review.reservation_id)

    assert released is False
    await assert_captured(stripe_sim, under_review.paid, LAST_PLAUSIBLE_CENTS, HOLD)
    assert (await reservation(server, under_review.reservation_id)).review_decision == "Capture"


async def test_a_free_session_whose_meter_jumped_has_no_hold_to_review(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger, Tariff(free=True, max_energy_wh=20_000))
    await connector_status(cp, "Preparing")
    created = (await create_answer(server)).json()
    id_tag = (await next_call(cp, "RemoteStartTransaction"))["id_tag"]
    started = await cp.call(call.StartTransaction(1, id_tag, METER_START, timestamp()))
    await stage_is(server, created["reservationId"], "charging")
    await meter(cp, started.transaction_id, timedelta(minutes=30), PLAUSIBLE_WH)
    await meter(cp, started.transaction_id, timedelta(minutes=40), JUMPED_WH)
    await stop_charging(cp, started.transaction_id, id_tag, meter_stop=STOP_WH)

    view = await stage_is(server, created["reservationId"], "done")
    receipt = view["receipt"]
    assert (receipt["meterReview"], receipt["moneyState"], receipt["amountDueCents"]) == (
        True,
        None,  # no card was held: nothing for an operator to decide
        0,
    )
    assert await events(stripe_sim) == []


async def test_decisions_at_the_same_moment_act_once(
    server: RunningServer, stripe_sim: StripeSim, under_review: UnderReview
) -> None:
    amounts = [LAST_PLAUSIBLE_CENTS, 400, 500, 600, None]  # None: release
    answers = await asyncio.gather(
        *(
            decide(
                server,
                under_review.reservation_id,
                "release" if amount is None else "capture",
                amount,
                by=f"operator-{n}",
            )
            for n, amount in enumerate(amounts)
        )
    )

    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200, 409, 409, 409, 409], [answer.text for answer in answers]
    winner = next(n for n, answer in enumerate(answers) if answer.status_code == 200)
    row = await reservation(server, under_review.reservation_id)
    assert row.review_decided_by == f"operator-{winner}"
    chosen = amounts[winner]
    if chosen is None:
        await assert_released(stripe_sim, under_review.paid)
    else:
        await assert_captured(stripe_sim, under_review.paid, chosen, HOLD)


async def test_a_decision_and_the_auto_release_at_the_same_moment_act_once(
    server: RunningServer, stripe_sim: StripeSim, under_review: UnderReview
) -> None:
    row = await reservation(server, under_review.reservation_id)
    assert row.authorized_at is not None
    set_clock(server, row.authorized_at + timedelta(hours=RELEASE_AFTER_HOURS + 1))

    answer, _ = await asyncio.gather(
        decide(server, under_review.reservation_id, "capture", LAST_PLAUSIBLE_CENTS),
        sweeps.release_undecided_reviews(payments(server)),
    )

    row = await reservation(server, under_review.reservation_id)
    if answer.status_code == 200:
        assert row.review_decision == "Capture"
        await assert_captured(stripe_sim, under_review.paid, LAST_PLAUSIBLE_CENTS, HOLD)
    else:
        assert answer.json()["status"] in ("AlreadyDecided", "NotUnderReview")
        assert row.review_decision == "AutoRelease"
        await assert_released(stripe_sim, under_review.paid)
