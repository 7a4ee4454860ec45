"""The Stripe simulator driven the way the gateway drives Stripe.

API calls go only through the official SDK's async client; the hosted page and
``/_sim`` through plain HTTP; webhooks land on a real receiver and are verified
with ``stripe.Webhook.construct_event``.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import pytest
import stripe
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp
from stripe.params.checkout import SessionCreateParams

from ocpp_core.simulators.stripe.app import create_stripe_simulator
from ocpp_core.simulators.stripe.settings import StripeSimulatorSettings
from servers import listening_socket
from servers import serving as serve_on

API_KEY = "sk_test_simulator_0123456789"
SECRET = "whsec_simulator_test_secret"
HOLD = 5000
PAY = "4242 4242 4242 4242"
DECLINE = "4000000000000002"


@asynccontextmanager
async def serving(app: ASGIApp, sock: socket.socket) -> AsyncIterator[None]:
    async with serve_on(uvicorn.Config(app, log_level="warning"), sock):
        yield


@dataclass
class Receiver:
    """A webhook endpoint that can be told to fail, as a restarting server would."""

    fail_next: int = 0
    received: list[tuple[str, str]] = field(default_factory=list)
    arrival: asyncio.Event = field(default_factory=asyncio.Event)

    async def endpoint(self, request: Request) -> Response:
        if self.fail_next:
            self.fail_next -= 1
            return Response(status_code=500)
        body = (await request.body()).decode()
        self.received.append((body, request.headers.get("stripe-signature", "")))
        self.arrival.set()
        return Response(status_code=200)

    def events(self) -> list[Any]:
        return [stripe.Webhook.construct_event(body, sig, SECRET) for body, sig in self.received]

    async def wait_for(self, event_type: str, count: int = 1) -> list[Any]:
        async with asyncio.timeout(5):
            while len(matching := [e for e in self.events() if e.type == event_type]) < count:
                self.arrival.clear()
                await self.arrival.wait()
        return matching


@dataclass
class Sim:
    url: str
    client: stripe.StripeClient
    web: httpx.AsyncClient
    receiver: Receiver

    async def create(self, key: str | None = None, **overrides: Any) -> stripe.checkout.Session:
        options: stripe.RequestOptions = {"idempotency_key": key} if key else {}
        return await self.client.v1.checkout.sessions.create_async(params(**overrides), options)

    async def pay(self, session: stripe.checkout.Session, card: str) -> httpx.Response:
        assert session.url is not None
        return await self.web.post(session.url, data={"card_number": card, "action": "pay"})

    async def paid_intent(self, capture: str = "manual") -> stripe.PaymentIntent:
        session = await self.create(payment_intent_data={"capture_method": capture})
        assert (await self.pay(session, PAY)).status_code == 303
        session = await self.client.v1.checkout.sessions.retrieve_async(session.id)
        assert isinstance(session.payment_intent, str)
        return await self.client.v1.payment_intents.retrieve_async(session.payment_intent)

    async def deliveries(self) -> list[dict[str, Any]]:
        response = await self.web.get("/_sim/deliveries")
        return cast(list[dict[str, Any]], response.json()["deliveries"])


def money(intent: stripe.PaymentIntent) -> tuple[str, int, int]:
    return intent.status, intent.amount_capturable, intent.amount_received


def params(**overrides: Any) -> SessionCreateParams:
    base = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": HOLD,
                    "product_data": {"name": "Charging hold CP-1 / 1"},
                },
                "quantity": 1,
            }
        ],
        "payment_intent_data": {
            "capture_method": "manual",
            "metadata": {"reservation_id": "r-1"},
            "description": "EV charging",
        },
        "metadata": {"reservation_id": "r-1"},
        "success_url": "http://csms.test/Payments/Success?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://csms.test/Payments/Cancel",
    }
    return cast(SessionCreateParams, base | overrides)


@asynccontextmanager
async def stripe_client(url: str, timeout: float = 5) -> AsyncIterator[stripe.StripeClient]:
    http = stripe.HTTPXClient(timeout=timeout)
    try:
        yield stripe.StripeClient(
            API_KEY, base_addresses={"api": url}, http_client=http, max_network_retries=0
        )
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    receiver = Receiver()
    receiver_app = Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])])
    hook_sock, hook_url = listening_socket()
    sim_sock, url = listening_socket()
    settings = StripeSimulatorSettings(
        public_base_url=url,
        webhook_url=f"{hook_url}/hook",
        webhook_secret=SECRET,
        retry_delays=(0.05, 0.1, 0.2),
        sweep_interval=0.05,
    )
    async with (
        serving(receiver_app, hook_sock),
        serving(create_stripe_simulator(settings), sim_sock),
        stripe_client(url) as client,
        httpx.AsyncClient(base_url=url) as web,
    ):
        yield Sim(url, client, web, receiver)


async def test_a_new_session_is_open_with_a_hosted_page(sim: Sim) -> None:
    session = await sim.create()

    assert session.id.startswith("cs_test_")
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "payment")
    assert (session.amount_total, session.currency) == (HOLD, "eur")
    assert session.payment_intent is None
    assert session.customer_details is None
    assert session.metadata is not None
    assert session.metadata.to_dict() == {"reservation_id": "r-1"}
    assert abs(session.expires_at - (time.time() + 24 * 3600)) < 60
    assert session.url == f"{sim.url}/checkout/{session.id}"
    page = await sim.web.get(session.url)
    assert page.status_code == 200
    assert "50.00 EUR" in page.text
    assert "Charging hold CP-1 / 1" in page.text
    assert 'name="card_number"' in page.text
    assert 'value="cancel"' in page.text


async def test_payment_authorizes_and_a_partial_capture_releases_the_rest(sim: Sim) -> None:
    session = await sim.create()

    paid = await sim.pay(session, PAY)

    assert paid.status_code == 303
    assert paid.headers["location"] == f"http://csms.test/Payments/Success?session_id={session.id}"
    session = await sim.client.v1.checkout.sessions.retrieve_async(
        session.id, {"expand": ["payment_intent"]}
    )
    assert (session.status, session.payment_status) == ("complete", "unpaid")
    assert session.customer_details is not None
    assert session.customer_details.email == "driver@example.com"
    intent = session.payment_intent
    assert isinstance(intent, stripe.PaymentIntent)
    assert (intent.amount, intent.capture_method) == (HOLD, "manual")
    assert money(intent) == ("requires_capture", HOLD, 0)
    assert intent.metadata.to_dict() == {"reservation_id": "r-1"}

    captured = await sim.client.v1.payment_intents.capture_async(
        intent.id, {"amount_to_capture": 1234}
    )

    assert money(captured) == ("succeeded", 0, 1234)
    with pytest.raises(stripe.InvalidRequestError) as again:
        await sim.client.v1.payment_intents.capture_async(intent.id, {"amount_to_capture": 1})
    assert again.value.code == "payment_intent_unexpected_state"
    intent = await sim.client.v1.payment_intents.retrieve_async(intent.id)
    assert intent.amount_received == 1234


async def test_capture_above_the_capturable_amount_is_rejected(sim: Sim) -> None:
    intent = await sim.paid_intent()

    with pytest.raises(stripe.InvalidRequestError) as too_much:
        await sim.client.v1.payment_intents.capture_async(
            intent.id, {"amount_to_capture": HOLD + 1}
        )

    assert (too_much.value.code, too_much.value.param) == ("amount_too_large", "amount_to_capture")
    intent = await sim.client.v1.payment_intents.retrieve_async(intent.id)
    assert money(intent) == ("requires_capture", HOLD, 0)
    full = await sim.client.v1.payment_intents.capture_async(intent.id)
    assert full.amount_received == HOLD


async def test_cancel_releases_the_hold_once(sim: Sim) -> None:
    intent = await sim.paid_intent()

    canceled = await sim.client.v1.payment_intents.cancel_async(
        intent.id, {"cancellation_reason": "abandoned"}
    )

    assert money(canceled) == ("canceled", 0, 0)
    assert canceled.cancellation_reason == "abandoned"
    assert canceled.canceled_at is not None
    with pytest.raises(stripe.InvalidRequestError) as cancel_again:
        await sim.client.v1.payment_intents.cancel_async(intent.id)
    with pytest.raises(stripe.InvalidRequestError) as capture_after:
        await sim.client.v1.payment_intents.capture_async(intent.id)
    assert cancel_again.value.code == capture_after.value.code == "payment_intent_unexpected_state"


async def test_a_declined_card_keeps_the_session_open_for_another_card(sim: Sim) -> None:
    session = await sim.create()

    declined = await sim.pay(session, DECLINE)

    assert declined.status_code == 402
    assert "Your card was declined." in declined.text
    session = await sim.client.v1.checkout.sessions.retrieve_async(session.id)
    assert session.status == "open"
    assert isinstance(session.payment_intent, str)
    intent = await sim.client.v1.payment_intents.retrieve_async(session.payment_intent)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error is not None
    error = intent.last_payment_error
    assert (error.code, error.decline_code) == ("card_declined", "generic_decline")
    with pytest.raises(stripe.InvalidRequestError):  # Stripe: expire the session instead
        await sim.client.v1.payment_intents.cancel_async(intent.id)
    await sim.receiver.wait_for("payment_intent.payment_failed")

    assert (await sim.pay(session, PAY)).status_code == 303

    intent = await sim.client.v1.payment_intents.retrieve_async(intent.id)
    assert (intent.status, intent.last_payment_error) == ("requires_capture", None)


async def test_an_invalid_card_or_cancel_leaves_the_session_open(sim: Sim) -> None:
    session = await sim.create()
    assert session.url is not None

    invalid = await sim.pay(session, "1234 5678")
    cancel = await sim.web.post(session.url, data={"action": "cancel"})
    cancel_link = await sim.web.get(f"{session.url}/cancel")

    assert invalid.status_code == 400
    assert "Your card number is invalid." in invalid.text
    for response in (cancel, cancel_link):
        assert response.status_code == 303
        assert response.headers["location"] == "http://csms.test/Payments/Cancel"
    session = await sim.client.v1.checkout.sessions.retrieve_async(session.id)
    assert (session.status, session.payment_intent) == ("open", None)


async def test_an_expired_session_cannot_be_paid_or_expired_again(sim: Sim) -> None:
    session = await sim.create()

    expired = await sim.client.v1.checkout.sessions.expire_async(session.id)

    assert (expired.status, expired.url) == ("expired", None)
    with pytest.raises(stripe.InvalidRequestError, match=r"status in \[\"open\"\]"):
        await sim.client.v1.checkout.sessions.expire_async(session.id)
    assert (await sim.pay(session, PAY)).status_code == 400
    shortcut = await sim.web.post(f"/_sim/sessions/{session.id}/pay", json={"card_number": PAY})
    assert shortcut.status_code == 400
    assert shortcut.json()["kind"] == "unavailable"
    await sim.receiver.wait_for("checkout.session.expired")


async def test_the_sweep_expires_sessions_when_the_clock_moves(sim: Sim) -> None:
    session = await sim.create(expires_at=int(time.time()) + 31 * 60)
    declined = await sim.web.post(f"/_sim/sessions/{session.id}/pay", json={"card_number": DECLINE})
    assert declined.status_code == 402

    clock = await sim.web.post("/_sim/clock", json={"advance_seconds": 32 * 60})

    assert clock.json()["now"] > session.expires_at
    [event] = await sim.receiver.wait_for("checkout.session.expired")
    assert event.data.object.id == session.id
    [canceled] = await sim.receiver.wait_for("payment_intent.canceled")
    assert canceled.data.object.id == declined.json()["payment_intent"]
    session = await sim.client.v1.checkout.sessions.retrieve_async(session.id)
    assert session.status == "expired"


async def test_automatic_capture_is_paid_at_once(sim: Sim) -> None:
    intent = await sim.paid_intent(capture="automatic")

    assert money(intent) == ("succeeded", 0, HOLD)
    [completed] = await sim.receiver.wait_for("checkout.session.completed")
    assert completed.data.object.payment_status == "paid"


async def test_an_idempotency_key_replays_and_refuses_other_parameters(sim: Sim) -> None:
    first = await sim.create(key="reservation-r-1-create")
    replay = await sim.create(key="reservation-r-1-create")

    assert replay.id == first.id
    assert replay.last_response is not None
    assert replay.last_response.headers.get("idempotent-replayed") == "true"
    with pytest.raises(stripe.IdempotencyError):
        await sim.create(key="reservation-r-1-create", metadata={"reservation_id": "r-2"})


@pytest.mark.parametrize(
    ("overrides", "param", "code"),
    [
        ({"shipping_rates": "x"}, "shipping_rates", "parameter_unknown"),
        (
            {"line_items": [{"price_data": {"currency": "eur", "unit_amount": 1}, "qty": 1}]},
            "line_items[0][qty]",
            "parameter_unknown",
        ),
        ({"line_items": None}, "line_items", "parameter_missing"),
        ({"success_url": None}, "success_url", "parameter_missing"),
        ({"expires_at": 1}, "expires_at", None),
    ],
)
async def test_bad_parameters_are_rejected_like_stripe(
    sim: Sim, overrides: dict[str, Any], param: str, code: str | None
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as rejected:
        await sim.create(**overrides)

    assert (rejected.value.http_status, rejected.value.param, rejected.value.code) == (
        400,
        param,
        code,
    )
    if code == "parameter_unknown":
        assert rejected.value.user_message == f"Received unknown parameter: {param}"


async def test_requests_need_a_test_mode_key(sim: Sim) -> None:
    anonymous = await sim.web.get("/v1/events")
    http = stripe.HTTPXClient()
    live = stripe.StripeClient(
        "sk_live_nope", base_addresses={"api": sim.url}, http_client=http, max_network_retries=0
    )
    try:
        with pytest.raises(stripe.AuthenticationError):
            await live.v1.events.list_async()
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]

    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "invalid_request_error"


async def test_unknown_objects_are_not_found(sim: Sim) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await sim.client.v1.payment_intents.retrieve_async("pi_nope")

    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")


async def test_events_can_be_retrieved_and_listed(sim: Sim) -> None:
    intent = await sim.paid_intent()

    newest = await sim.client.v1.events.list_async({"limit": 2})
    completed = await sim.client.v1.events.list_async({"type": "checkout.session.completed"})

    assert len(newest.data) == 2
    assert newest.has_more
    assert [e.type for e in newest.data] == [
        "checkout.session.completed",
        "payment_intent.amount_capturable_updated",
    ]
    event = await sim.client.v1.events.retrieve_async(newest.data[1].id)
    assert (event.object, event.livemode, event.data.object["id"]) == ("event", False, intent.id)
    assert [e.id for e in completed.data] == [newest.data[0].id]


async def test_webhooks_are_signed_and_ordered_per_object(sim: Sim) -> None:
    intent = await sim.paid_intent()

    await sim.receiver.wait_for("checkout.session.completed")
    await sim.receiver.wait_for("payment_intent.amount_capturable_updated")

    body, signature = sim.receiver.received[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, signature, "whsec_wrong")
    about_intent = [e.type for e in sim.receiver.events() if e.data.object.id == intent.id]
    assert about_intent == ["payment_intent.created", "payment_intent.amount_capturable_updated"]


async def test_a_failing_receiver_gets_the_event_again(sim: Sim) -> None:
    sim.receiver.fail_next = 1
    session = await sim.create()

    await sim.client.v1.checkout.sessions.expire_async(session.id)

    [event] = await sim.receiver.wait_for("checkout.session.expired")
    attempts = [(d["attempt"], d["status_code"]) for d in await sim.deliveries()]
    assert attempts == [(1, 500), (2, 200)]
    assert event.data.object.id == session.id


async def test_redelivery_sends_the_same_event_twice(sim: Sim) -> None:
    session = await sim.create()
    await sim.client.v1.checkout.sessions.expire_async(session.id)
    [event] = await sim.receiver.wait_for("checkout.session.expired")

    response = await sim.web.post(f"/_sim/webhooks/redeliver/{event.id}")

    assert response.status_code == 202
    twice = await sim.receiver.wait_for("checkout.session.expired", count=2)
    assert {e.id for e in twice} == {event.id}


async def test_an_injected_error_reaches_the_sdk_once(sim: Sim) -> None:
    intent = await sim.paid_intent()
    fault = {"method": "POST", "path": "/v1/payment_intents/", "kind": "error", "count": 1}
    assert (await sim.web.post("/_sim/faults", json=fault)).status_code == 200

    with pytest.raises(stripe.APIError) as failed:
        await sim.client.v1.payment_intents.capture_async(intent.id)

    assert failed.value.http_status == 500
    captured = await sim.client.v1.payment_intents.capture_async(intent.id)
    assert captured.amount_received == HOLD


async def test_the_sdk_retry_rides_out_an_injected_error(sim: Sim) -> None:
    intent = await sim.paid_intent()
    fault = {"method": "POST", "path": "/v1/payment_intents/", "kind": "error"}
    await sim.web.post("/_sim/faults", json=fault)

    captured = await sim.client.v1.payment_intents.capture_async(
        intent.id, {"amount_to_capture": 700}, {"max_network_retries": 1}
    )

    assert captured.amount_received == 700
    assert (await sim.web.get("/_sim/faults")).json()["faults"] == []


async def test_a_timed_out_capture_retried_with_its_key_captures_once(sim: Sim) -> None:
    intent = await sim.paid_intent()
    fault = {"method": "POST", "path": "/v1/payment_intents/", "kind": "delay", "seconds": 0.5}
    await sim.web.post("/_sim/faults", json=fault)
    options: stripe.RequestOptions = {"idempotency_key": f"capture-{intent.id}"}

    async with stripe_client(sim.url, timeout=0.1) as impatient:
        with pytest.raises(stripe.APIConnectionError):
            await impatient.v1.payment_intents.capture_async(
                intent.id, {"amount_to_capture": 900}, options
            )
    await sim.receiver.wait_for("payment_intent.succeeded")
    retried = await sim.client.v1.payment_intents.capture_async(
        intent.id, {"amount_to_capture": 900}, options
    )

    assert (retried.status, retried.amount_received) == ("succeeded", 900)
    assert retried.last_response is not None
    assert retried.last_response.headers.get("idempotent-replayed") == "true"
    succeeded = await sim.client.v1.events.list_async({"type": "payment_intent.succeeded"})
    assert len(succeeded.data) == 1
