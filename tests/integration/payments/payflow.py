"""Steps of the paid flow shared by the failure tests: the driver, the charger, Stripe, sweeps.

Everything here acts through the real surfaces (HTTP API, OCPP websocket, the
Stripe SDK against the simulator); money is read from Stripe, never from our
own bookkeeping. The reservation row is read only for what the driver's
status view does not show (the money state of a reservation that never
completed).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx
import stripe
from ocpp.v16 import call
from sqlalchemy import select
from stripe.params import EventListParams

from builders import NOW, add_charge_point, timestamp
from chargers import TestCharger
from ocpp_core.clock import utc_now
from ocpp_core.db.models import PaymentReservation, StripeWebhookEvent
from ocpp_core.domain import tariffs
from ocpp_core.domain.pricing import Tariff
from ocpp_core.payments import sweeps
from ocpp_core.payments.context import PaymentContext
from servers import ConnectCharger, RunningServer
from stripe_harness import WEBHOOK_SECRET, StripeSim, eventually

# 0.40 EUR/kWh up to 20 kWh, 1.00 EUR per session: a hold of 8.00 + 1.00.
TARIFF = Tariff(price_kwh_millicents=40_000, session_fee_cents=100, max_energy_wh=20_000)
HOLD = 900
# 1 000 Wh -> 13 500 Wh: 12.5 kWh x 0.40 EUR + 1.00 EUR.
METER_START, METER_STOP, DUE = 1_000, 13_500, 600
WEBHOOK_PATHS = ("/API/Payments/Webhook", "/Payments/Webhook")
MONEY_PENDING = ("CapturePending", "ReleasePending")


def payments(server: RunningServer) -> PaymentContext:
    context: PaymentContext = server.app.state.payments
    return context


# The station and the driver


async def priced_charger(
    server: RunningServer, charger: ConnectCharger, tariff: Tariff = TARIFF, cp_id: str = "CP1"
) -> TestCharger:
    await add_charge_point(server.runtime.db, cp_id)
    async with server.runtime.db.session() as session:
        await tariffs.set_tariff(session, cp_id, tariff)
    cp = await charger(cp_id)
    await connector_status(cp, "Available")
    return cp


async def connector_status(cp: TestCharger, status: str, connector_id: int = 1) -> None:
    await cp.call(call.StatusNotification(connector_id, "NoError", status, timestamp=timestamp()))


async def create_answer(
    server: RunningServer, tag: str = "WEB-DRIVER", cp_id: str = "CP1"
) -> httpx.Response:
    body = {"chargePointId": cp_id, "connectorId": 1, "chargeTagId": tag}
    return await server.api.post("/API/Payments/Create", json=body)


async def create(server: RunningServer, tag: str = "WEB-DRIVER") -> dict[str, Any]:
    response = await create_answer(server, tag)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def post(server: RunningServer, action: str, body: dict[str, Any]) -> httpx.Response:
    return await server.api.post(f"/API/Payments/{action}", json=body)


async def status(server: RunningServer, reservation_id: str) -> dict[str, Any]:
    response = await server.api.get(
        "/API/Payments/Status", params={"reservationId": reservation_id}
    )
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def stage_is(server: RunningServer, reservation_id: str, stage: str) -> None:
    async def reached() -> bool:
        return bool((await status(server, reservation_id))["sessionStage"] == stage)

    await eventually(reached)


async def next_call(cp: TestCharger, action: str) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while True:
            received, request = await cp.received.get()
            if received == action:
                return request


def remote_starts(cp: TestCharger) -> list[dict[str, Any]]:
    return [request for action, request in cp.requests if action == "RemoteStartTransaction"]


def checkout_session_id(checkout_url: str) -> str:
    return checkout_url.rsplit("/", 1)[1]  # the simulator's hosted page is /checkout/{id}


async def paid(server: RunningServer, stripe_sim: StripeSim) -> dict[str, Any]:
    """A reservation paid on the hosted page and authorized (by the webhook)."""
    created = await create(server)
    assert created["status"] == "Redirect", created
    response = await stripe_sim.pay(created["checkoutUrl"])
    assert response.status_code == 303, response.text
    await stage_is(server, created["reservationId"], "awaitingPlug")
    return created


async def start_charging(
    server: RunningServer, cp: TestCharger, reservation_id: str
) -> tuple[int, str]:
    """Plug in, answer the remote start with a StartTransaction: the transaction and idTag."""
    await connector_status(cp, "Preparing")
    id_tag = str((await next_call(cp, "RemoteStartTransaction"))["id_tag"])
    started = await cp.call(call.StartTransaction(1, id_tag, METER_START, timestamp()))
    assert started.id_tag_info["status"] == "Accepted"
    await stage_is(server, reservation_id, "charging")
    return int(started.transaction_id), id_tag


async def stop_charging(
    cp: TestCharger, transaction_id: int, id_tag: str, meter_stop: int = METER_STOP
) -> None:
    """The car leaves with the session (EVDisconnected: no idle fee to wait for)."""
    await cp.call(
        call.StopTransaction(
            meter_stop=meter_stop,
            timestamp=timestamp(NOW + timedelta(hours=1)),
            transaction_id=transaction_id,
            reason="EVDisconnected",
            id_tag=id_tag,
        )
    )


def set_clock(server: RunningServer, now: datetime) -> None:
    """The server's injectable clock, jumped to ``now`` and running on from there."""
    offset = now - utc_now()
    server.runtime.clock = lambda: utc_now() + offset


# Our side of the money, for what the status view does not show


async def reservation(server: RunningServer, reservation_id: str) -> PaymentReservation:
    async with server.runtime.db.session() as session:
        row = await session.get(PaymentReservation, reservation_id)
        assert row is not None
        session.expunge(row)
        return row


async def money_state_is(server: RunningServer, reservation_id: str, state: str) -> None:
    async def reached() -> bool:
        return (await reservation(server, reservation_id)).money_state == state

    await eventually(reached)


async def sweep_until_settled(
    server: RunningServer, reservation_id: str, timeout: float = 15
) -> PaymentReservation:
    """Run the sweeps, as the background task would, until no money action is pending."""
    context = payments(server)
    await context.drain()  # work already under way (a settlement, a cancel) goes first
    async with asyncio.timeout(timeout):
        while True:
            await sweeps.sweep_once(context)
            await context.drain()
            row = await reservation(server, reservation_id)
            if row.money_state not in MONEY_PENDING:
                return row
            await asyncio.sleep(0.06)  # past the (test-sized) back-off


async def stored_event_ids(server: RunningServer) -> Counter[str]:
    async with server.runtime.db.session() as session:
        return Counter((await session.scalars(select(StripeWebhookEvent.id))).all())


# Stripe, through the SDK and the simulator's controls


async def intent(stripe_sim: StripeSim, checkout_url: str) -> stripe.PaymentIntent:
    return await stripe_sim.intent_of(checkout_session_id(checkout_url))


async def checkout(stripe_sim: StripeSim, checkout_url: str) -> stripe.checkout.Session:
    session_id = checkout_session_id(checkout_url)
    return await stripe_sim.client.v1.checkout.sessions.retrieve_async(session_id)


async def events(stripe_sim: StripeSim, event_type: str | None = None) -> list[dict[str, Any]]:
    params: EventListParams = {"limit": 100}
    if event_type is not None:
        params["type"] = event_type
    listing = await stripe_sim.client.v1.events.list_async(params)
    return [event.to_dict() for event in listing.data]


async def assert_nothing_held(stripe_sim: StripeSim, checkout_url: str) -> None:
    """Every hold ends captured or canceled; an unpaid session ends expired, not open."""
    session = await checkout(stripe_sim, checkout_url)
    assert session.status in ("complete", "expired"), f"checkout left {session.status}"
    if session.payment_intent is None:
        return
    held = await stripe_sim.client.v1.payment_intents.retrieve_async(str(session.payment_intent))
    assert held.status in ("succeeded", "canceled"), f"payment left {held.status}"
    assert held.amount_capturable == 0


async def clear_faults(stripe_sim: StripeSim) -> None:
    (await stripe_sim.web.delete("/_sim/faults")).raise_for_status()


async def pending_faults(stripe_sim: StripeSim) -> list[dict[str, Any]]:
    faults: list[dict[str, Any]] = (await stripe_sim.web.get("/_sim/faults")).json()["faults"]
    return faults


async def redeliver(stripe_sim: StripeSim, event_id: str) -> None:
    response = await stripe_sim.web.post(f"/_sim/webhooks/redeliver/{event_id}")
    assert response.status_code == 202, response.text


async def attempts_of(stripe_sim: StripeSim, event_id: str) -> list[dict[str, Any]]:
    response = await stripe_sim.web.get("/_sim/deliveries", params={"event_id": event_id})
    attempts: list[dict[str, Any]] = response.json()["deliveries"]
    return attempts


async def delivered(stripe_sim: StripeSim, event_type: str, times: int = 1) -> dict[str, Any]:
    """The one event of this type, once the simulator has delivered it ``times`` times."""

    async def done() -> bool:
        found = await events(stripe_sim, event_type)
        if len(found) != 1:
            return False
        ok = [a for a in await attempts_of(stripe_sim, found[0]["id"]) if a["delivered"]]
        return len(ok) >= times

    await eventually(done)
    return (await events(stripe_sim, event_type))[0]


# Webhooks we sign ourselves, with Stripe's scheme


def signature(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """``Stripe-Signature``: ``t=<unix>,v1=<HMAC-SHA256 of "t.payload">``."""
    stamp = int(time.time()) if at is None else at
    signed = f"{stamp}.".encode() + payload
    return f"t={stamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def event_payload(
    event_type: str, obj: dict[str, Any], event_id: str | None = None, created: datetime = NOW
) -> bytes:
    event = {
        "id": event_id or f"evt_test_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "api_version": stripe.api_version,
        "created": int(created.timestamp()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return json.dumps(event).encode()


async def post_webhook(
    server: RunningServer,
    payload: bytes,
    stripe_signature: str | None,
    path: str = WEBHOOK_PATHS[0],
) -> httpx.Response:
    """As Stripe posts: no API key, the signature header only."""
    headers = {"Content-Type": "application/json"}
    if stripe_signature is not None:
        headers["Stripe-Signature"] = stripe_signature
    async with httpx.AsyncClient(base_url=server.http_url) as web:
        return await web.post(path, content=payload, headers=headers)
