"""Stripe webhooks against the real server: who authorizes, duplicates, order, signatures.

The simulator signs and delivers its own events (with retries); events we post
ourselves are signed with Stripe's HMAC scheme, correctly or on purpose not.
Every test ends with the money checked at Stripe.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from typing import Any

import pytest
import sqlalchemy
from ocpp.v16 import call

from builders import timestamp
from chargers import TestCharger
from integration.payments.payflow import (
    DUE,
    HOLD,
    WEBHOOK_PATHS,
    assert_nothing_held,
    attempts_of,
    checkout,
    checkout_session_id,
    clear_faults,
    connector_status,
    create,
    create_and_pay,
    delivered,
    delivery_over,
    event_payload,
    events,
    intent,
    money_state_is,
    next_call,
    post,
    post_webhook,
    priced_charger,
    redeliver,
    signature,
    stage_is,
    start_charging,
    status,
    stop_charging,
    stored_event_ids,
)
from ocpp_core.payments.webhooks import HANDLED
from rawhttp import raw_connection, request_head
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim, eventually

COMPLETED = "checkout.session.completed"
CAPTURABLE = "payment_intent.amount_capturable_updated"


async def assert_captured_once(
    server: RunningServer, stripe_sim: StripeSim, created: dict[str, Any]
) -> None:
    receipt = (await status(server, created["reservationId"]))["receipt"]
    assert (receipt["moneyState"], receipt["capturedCents"]) == ("Captured", DUE)
    assert receipt["releasedCents"] == HOLD - DUE
    held = await intent(stripe_sim, created["checkoutUrl"])
    assert (held.status, held.amount_received, held.amount_capturable) == ("succeeded", DUE, 0)
    assert len(await events(stripe_sim, "payment_intent.succeeded")) == 1
    assert await events(stripe_sim, "payment_intent.canceled") == []


async def charge_and_settle(
    server: RunningServer, cp: TestCharger, stripe_sim: StripeSim, created: dict[str, Any]
) -> None:
    transaction_id, id_tag = await start_charging(server, cp, created["reservationId"])
    await stop_charging(cp, transaction_id, id_tag)
    await money_state_is(server, created["reservationId"], "Captured")
    await assert_captured_once(server, stripe_sim, created)


async def all_delivered(stripe_sim: StripeSim, times: int = 1) -> list[dict[str, Any]]:
    """Every event so far, once the simulator has delivered each ``times`` times."""

    async def done() -> bool:
        for event in await events(stripe_sim):
            attempts = await attempts_of(stripe_sim, event["id"])
            if sum(a["delivered"] for a in attempts) < times:
                return False
        return True

    await eventually(done)
    return await events(stripe_sim)


# 1. Who authorizes: the webhook alone, or the browser's Confirm first


async def test_the_webhook_alone_authorizes_and_starts_when_the_browser_never_returns(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger)
    await connector_status(cp, "Preparing")  # plugged in first: the start goes out at once
    created = await create(server)
    response = await stripe_sim.pay(created["checkoutUrl"])
    assert response.status_code == 303  # the redirect nobody follows: no Confirm

    start = await next_call(cp, "RemoteStartTransaction")
    assert start["connector_id"] == 1

    async def start_requested() -> bool:
        view = await status(server, created["reservationId"])
        return bool(view["status"] == "StartRequested" and view["authorizedCents"] == HOLD)

    await eventually(start_requested)
    completed = await delivered(stripe_sim, COMPLETED)
    assert (await stored_event_ids(server))[completed["id"]] == 1

    started = await cp.call(call.StartTransaction(1, start["id_tag"], 1_000, timestamp()))
    await stage_is(server, created["reservationId"], "charging")
    await stop_charging(cp, started.transaction_id, start["id_tag"])
    await money_state_is(server, created["reservationId"], "Captured")
    await assert_captured_once(server, stripe_sim, created)


async def test_a_webhook_that_meets_a_stripe_outage_is_retried_and_still_starts_the_session(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    """The browser never returns and Stripe fails the webhook's check of the session once.

    The server must not swallow the event: answering 2xx (and storing the event
    id) would leave a paid driver without a session, as nothing else authorizes it.
    """
    cp = await priced_charger(server, charger)
    created = await create(server)
    await stripe_sim.fault("GET", "/v1/checkout/sessions/", "error", count=1)
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303

    await stage_is(server, created["reservationId"], "awaitingPlug")
    completed = await delivered(stripe_sim, COMPLETED)
    attempts = await attempts_of(stripe_sim, completed["id"])
    assert [a["delivered"] for a in attempts] == [False, True]
    assert (await stored_event_ids(server))[completed["id"]] == 1
    await charge_and_settle(server, cp, stripe_sim, created)


async def test_confirm_authorizes_first_when_the_webhook_fails_and_the_late_webhook_changes_nothing(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger)
    created = await create(server)
    reservation_id = created["reservationId"]
    # Stripe fails the webhook's check of the session on every delivery attempt.
    await stripe_sim.fault("GET", "/v1/checkout/sessions/", "error", count=4)
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
    completed = await delivery_over(stripe_sim, COMPLETED)
    assert (await status(server, reservation_id))["status"] == "PendingPayment"
    await clear_faults(stripe_sim)

    # The browser comes back: Confirm checks the hold with Stripe itself and authorizes.
    body = {
        "reservationId": reservation_id,
        "checkoutSessionId": checkout_session_id(created["checkoutUrl"]),
    }
    confirmed = await post(server, "Confirm", body)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json() == {"status": "Authorized", "reason": "AwaitingPlug"}
    view = await status(server, reservation_id)
    assert (view["sessionStage"], view["authorizedCents"]) == ("awaitingPlug", HOLD)

    # The webhook arrives late, the browser confirms twice: nothing changes.
    ok_before = sum(a["delivered"] for a in await attempts_of(stripe_sim, completed["id"]))
    await redeliver(stripe_sim, completed["id"])

    async def redelivered() -> bool:
        attempts = await attempts_of(stripe_sim, completed["id"])
        return bool(sum(a["delivered"] for a in attempts) == ok_before + 1)

    await eventually(redelivered)
    again = await post(server, "Confirm", body)
    assert again.json() == {"status": "Authorized", "reason": "AwaitingPlug"}
    assert (await stored_event_ids(server))[completed["id"]] <= 1
    view = await status(server, reservation_id)
    assert (view["status"], view["authorizedCents"]) == ("Authorized", HOLD)
    assert (await intent(stripe_sim, created["checkoutUrl"])).amount_capturable == HOLD

    await charge_and_settle(server, cp, stripe_sim, created)


async def test_confirm_refuses_a_session_that_is_not_the_reservations_or_not_paid(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    created = await create(server)
    reservation_id = created["reservationId"]
    session_id = checkout_session_id(created["checkoutUrl"])

    wrong = await post(
        server, "Confirm", {"reservationId": reservation_id, "checkoutSessionId": "cs_other"}
    )
    assert (wrong.status_code, wrong.json()["status"]) == (400, "SessionMismatch")
    unpaid = await post(
        server, "Confirm", {"reservationId": reservation_id, "checkoutSessionId": session_id}
    )
    assert unpaid.status_code == 400, unpaid.text  # not paid yet: nothing to authorize
    unknown = await post(
        server, "Confirm", {"reservationId": "nope", "checkoutSessionId": session_id}
    )
    assert unknown.status_code == 404
    assert (await status(server, reservation_id))["status"] == "PendingPayment"
    assert (await checkout(stripe_sim, created["checkoutUrl"])).payment_intent is None


# 2. Duplicate and out-of-order events


async def test_duplicate_deliveries_of_every_event_change_no_amount(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger)
    created = (await create_and_pay(server, stripe_sim)).created
    await charge_and_settle(server, cp, stripe_sim, created)
    sent = await all_delivered(stripe_sim)
    assert {e["type"] for e in sent} >= {COMPLETED, CAPTURABLE, "payment_intent.succeeded"}
    stored = await stored_event_ids(server)
    # Remembered once, those that changed something: the completed checkout authorized the
    # session; one that changed nothing (the hold, reported once it was known) is not.
    completed = next(e["id"] for e in sent if e["type"] == COMPLETED)
    assert completed in stored
    assert stored.keys() <= {e["id"] for e in sent if e["type"] in HANDLED}
    assert set(stored.values()) == {1}

    for event in sent:
        await redeliver(stripe_sim, event["id"])
    await all_delivered(stripe_sim, times=2)
    # The same body posted again is recognised by its id as well; one that changed nothing
    # is handled again, and changes nothing again.
    for event in sent:
        payload = event_payload(event["type"], event["data"]["object"], event_id=event["id"])
        answer = await post_webhook(server, payload, signature(payload))
        again = "Processed" if event["type"] in HANDLED else "Ignored"
        again = "Duplicate" if event["id"] in stored else again
        assert (answer.status_code, answer.json()) == (200, {"status": again})

    assert await stored_event_ids(server) == stored
    assert len(await events(stripe_sim)) == len(sent)  # no Stripe call was made again
    await assert_captured_once(server, stripe_sim, created)


async def test_out_of_order_events_after_the_capture_change_no_amount(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger)
    created = (await create_and_pay(server, stripe_sim)).created
    await charge_and_settle(server, cp, stripe_sim, created)
    sent = await all_delivered(stripe_sim)
    receipt = (await status(server, created["reservationId"]))["receipt"]

    session = (await checkout(stripe_sim, created["checkoutUrl"])).to_dict()
    held = next(e for e in sent if e["type"] == CAPTURABLE)["data"]["object"]
    late = [
        ("checkout.session.expired", session | {"status": "expired", "url": None}),
        (CAPTURABLE, held),  # the hold as it was before the capture
        (COMPLETED, next(e for e in sent if e["type"] == COMPLETED)["data"]["object"]),
        ("payment_intent.payment_failed", held | {"status": "requires_payment_method"}),
    ]
    stored = await stored_event_ids(server)
    payloads = [event_payload(event_type, obj) for event_type, obj in late]
    for payload in payloads:
        answer = await post_webhook(server, payload, signature(payload))
        assert (answer.status_code, answer.json()) == (200, {"status": "Processed"}), payload
    await server.app.state.payments.drain()
    # Only the late completed checkout is remembered: it asked for its payment back (which
    # the capture holds: nothing to give back). The others changed nothing, and delivered
    # again, they change nothing again.
    remembered = json.loads(payloads[2])["id"]
    for payload in payloads:
        answer = await post_webhook(server, payload, signature(payload))
        again = "Duplicate" if json.loads(payload)["id"] == remembered else "Processed"
        assert (answer.status_code, answer.json()) == (200, {"status": again}), payload
    await server.app.state.payments.drain()

    assert (await status(server, created["reservationId"]))["receipt"] == receipt
    assert await stored_event_ids(server) == stored + Counter([remembered])
    assert len(await events(stripe_sim)) == len(sent)  # nothing was asked of Stripe
    await assert_captured_once(server, stripe_sim, created)


async def test_an_expiry_or_hold_event_arriving_after_authorization_keeps_the_session(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger)
    created = (await create_and_pay(server, stripe_sim)).created
    held = (await events(stripe_sim, CAPTURABLE))[0]["data"]["object"]
    session = (await checkout(stripe_sim, created["checkoutUrl"])).to_dict()

    for event_type, obj in (
        ("checkout.session.expired", session | {"status": "expired", "url": None}),
        (CAPTURABLE, held),
    ):
        payload = event_payload(event_type, obj)
        assert (await post_webhook(server, payload, signature(payload))).status_code == 200
    await server.app.state.payments.drain()

    view = await status(server, created["reservationId"])
    assert (view["status"], view["sessionStage"], view["authorizedCents"]) == (
        "Authorized",
        "awaitingPlug",
        HOLD,
    )
    assert (await intent(stripe_sim, created["checkoutUrl"])).status == "requires_capture"
    await charge_and_settle(server, cp, stripe_sim, created)


async def test_events_of_types_we_do_not_act_on_are_answered_without_touching_the_database(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    """Stripe sends ``payment_intent.created`` and the like for every payment: no row, no read."""
    await priced_charger(server, charger)
    created = await create(server)
    ours = {"reservation_id": created["reservationId"]}
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "payment_reservations" in statement or "stripe_webhook_events" in statement:
            statements.append(statement)

    engine = server.runtime.db.engine.sync_engine
    sqlalchemy.event.listen(engine, "before_cursor_execute", seen)
    try:
        for event_type in ("payment_intent.created", "payment_intent.succeeded", "charge.updated"):
            payload = event_payload(event_type, {"id": "pi_test_1", "metadata": ours})
            answer = await post_webhook(server, payload, signature(payload))
            assert (answer.status_code, answer.json()) == (200, {"status": "Ignored"}), event_type
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", seen)

    assert statements == []
    assert await stored_event_ids(server) == {}
    view = await status(server, created["reservationId"])
    assert view["status"] == "PendingPayment"
    # Still refused before anything else when the signature is wrong.
    payload = event_payload("payment_intent.created", {"id": "pi_test_1"})
    answer = await post_webhook(server, payload, signature(payload, secret="whsec_wrong"))
    assert (answer.status_code, answer.json()) == (400, {"status": "InvalidSignature"})


# 3. Signatures


async def test_unverified_webhooks_get_400_on_both_urls_and_change_nothing(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    created = await create(server)
    reservation_id = created["reservationId"]
    # If believed, this event would abandon the reservation.
    session = (await checkout(stripe_sim, created["checkoutUrl"])).to_dict()
    payload = event_payload("checkout.session.expired", session | {"status": "expired"})
    tampered = payload.replace(b'"livemode": false', b'"livemode": true')
    assert tampered != payload
    now = int(time.time())
    forged = {
        "missing": None,
        "empty": "",
        "garbage": "garbage",
        "wrong secret": signature(payload, secret="whsec_somebody_else"),
        "other body": signature(tampered),
        "v0 scheme only": signature(payload).replace("v1=", "v0="),
        "no timestamp": signature(payload).split(",", 1)[1],
        "timestamp changed": signature(payload, at=now).replace(f"t={now}", f"t={now + 1}"),
    }
    for path in WEBHOOK_PATHS:
        for case, header in forged.items():
            answer = await post_webhook(server, payload, header, path)
            assert answer.status_code == 400, (path, case, answer.text)
            assert answer.json() == {"status": "InvalidSignature"}, (path, case)

    view = await status(server, reservation_id)
    assert (view["status"], view["failureCode"]) == ("PendingPayment", None)
    assert await stored_event_ids(server) == {}
    assert (await checkout(stripe_sim, created["checkoutUrl"])).status == "open"
    resumed = await post(server, "Resume", {"reservationId": reservation_id})
    assert resumed.json()["status"] == "Redirect"

    # The positive control: the same event, signed with the endpoint's secret, is believed.
    answer = await post_webhook(server, payload, signature(payload), WEBHOOK_PATHS[1])
    assert (answer.status_code, answer.json()) == (200, {"status": "Processed"})
    view = await status(server, reservation_id)
    assert (view["status"], view["failureCode"]) == ("Abandoned", "CheckoutExpired")
    assert sum((await stored_event_ids(server)).values()) == 1

    # A driver who still pays the (here still open) session gets the hold back.
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303

    async def released() -> bool:
        return (await intent(stripe_sim, created["checkoutUrl"])).status == "canceled"

    await eventually(released)
    await assert_nothing_held(stripe_sim, created["checkoutUrl"])
    assert (await intent(stripe_sim, created["checkoutUrl"])).amount_received == 0


async def test_signed_payloads_that_are_not_events_get_400(
    server: RunningServer, stripe_sim: StripeSim
) -> None:
    for payload in (b"[]", b"{}", b'{"id": "evt_1"}', b"not json", b"\xff\xfe"):
        for path in WEBHOOK_PATHS:
            answer = await post_webhook(server, payload, signature(payload), path)
            assert answer.status_code == 400, (payload, path, answer.text)
    assert await stored_event_ids(server) == {}


def padded_event(size: int) -> bytes:
    """A signed-able event of a type we ignore, exactly ``size`` bytes long."""
    payload = event_payload("customer.created", {"id": "cus_1", "note": ""})
    return payload.replace(b'"note": ""', b'"note": "' + b"x" * (size - len(payload)) + b'"')


async def test_an_event_over_the_size_limit_gets_413_before_it_is_read(
    server: RunningServer, stripe_sim: StripeSim
) -> None:
    limit = server.runtime.settings.http.webhook_max_body
    for path in WEBHOOK_PATHS:
        too_big = padded_event(limit + 1)
        head = request_head(
            "POST",
            path,
            Content_Type="application/json",
            Content_Length=str(len(too_big)),
            Stripe_Signature=signature(too_big),
        )
        async with raw_connection(server.port) as connection:
            await connection.send(head + too_big[:1000])

            status_code, answer = await connection.json_response()

            assert (status_code, answer["status"]) == (413, "PayloadTooLarge"), path
            assert await connection.closed_by_server()
    assert await stored_event_ids(server) == {}

    fits = padded_event(limit)
    answer = await post_webhook(server, fits, signature(fits))
    assert (answer.status_code, answer.json()) == (200, {"status": "Ignored"})


def envelope(**fields: Any) -> dict[str, Any]:
    """A checkout.session.completed event with ``fields`` replaced."""
    event = json.loads(event_payload(COMPLETED, {"id": "cs_test_1", "object": "checkout.session"}))
    return {**event, **fields}


async def test_signed_events_of_the_wrong_shape_get_400_are_logged_and_change_nothing(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await priced_charger(server, charger)
    created = await create(server)
    session = (await checkout(stripe_sim, created["checkoutUrl"])).to_dict()
    ours = {"reservation_id": created["reservationId"]}
    wrong = {
        "id a number": envelope(id=5),
        "id an object": envelope(id={"a": 1}),
        "id too long": envelope(id="evt_" + "x" * 200),
        "type a number": envelope(type=42),
        "data a list": envelope(data=[]),
        "data a string": envelope(data="x"),
        "no object": envelope(data={}),
        "object a string": envelope(data={"object": "cs_test_1"}),
        "object id an object": envelope(data={"object": {**session, "id": {"a": 1}}}),
        "metadata a list": envelope(
            type="payment_intent.payment_failed",
            data={"object": {"id": "pi_unknown", "metadata": ["x"]}},
        ),
        "error a string": envelope(
            type="payment_intent.payment_failed",
            data={"object": {"id": "pi_unknown", "metadata": ours, "last_payment_error": "no"}},
        ),
    }
    for case, event in wrong.items():
        payload = json.dumps(event).encode()
        with caplog.at_level(logging.WARNING, logger="ocpp_core.payments"):
            answer = await post_webhook(server, payload, signature(payload))
        assert (answer.status_code, answer.json()) == (400, {"status": "InvalidEvent"}), case
        assert "webhook refused: not a Stripe event of the expected shape" in caplog.text, case
        caplog.clear()

    view = await status(server, created["reservationId"])
    assert (view["status"], view["failureCode"], view["failureMessage"]) == (
        "PendingPayment",
        None,
        None,
    )
    assert await stored_event_ids(server) == {}


async def test_a_correctly_signed_but_stale_event_is_refused_as_a_replay(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    """Stripe's own libraries refuse a signature timestamp older than five minutes."""
    await priced_charger(server, charger)
    created = await create(server)
    session = (await checkout(stripe_sim, created["checkoutUrl"])).to_dict()
    payload = event_payload("checkout.session.expired", session | {"status": "expired"})
    an_hour_ago = int(time.time()) - 3600

    answer = await post_webhook(server, payload, signature(payload, at=an_hour_ago))
    assert (answer.status_code, answer.json()) == (400, {"status": "InvalidSignature"})
    assert (await status(server, created["reservationId"]))["status"] == "PendingPayment"
    assert await stored_event_ids(server) == {}
