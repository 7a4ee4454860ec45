"""A driver's paid session, step by step, through the real surfaces: shared by the payments tests.

Everything here acts through the HTTP API, a real OCPP charger and the Stripe
SDK against the simulator; money is read from Stripe, never from our own
bookkeeping. The reservation row is read only for what the driver's status
view does not show (the money state of a reservation that never completed).

Tests that need exact deadlines and idle minutes give the server a
:class:`SteppedClock` and take the charger's timestamps from the same timeline.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
import stripe
from ocpp.v16 import call, call_result
from sqlalchemy import select
from sqlalchemy.orm import Mapper
from stripe.params import EventListParams

from builders import NOW, add_charge_point, timestamp
from chargers import TestCharger, TestCharger201
from ocpp_core.clock import utc_now
from ocpp_core.config import Settings
from ocpp_core.db.models import PaymentReservation, StripeWebhookEvent
from ocpp_core.domain import tariffs
from ocpp_core.domain.pricing import Tariff
from ocpp_core.payments import sweeps
from ocpp_core.payments.context import PaymentContext
from ocpp_core.server.app import create_server_app
from ocpp_core.server.run import uvicorn_config
from ocpp_core.tls_trust import trusted
from servers import API_KEY, PATIENCE, ConnectCharger, RunningServer, serving
from stripe_harness import WEBHOOK_SECRET, StripeSim, eventually

CP = "CP1"
ENERGY_REGISTER = "Energy.Active.Import.Register"

# 0.40 EUR/kWh up to 20 kWh, 1.00 EUR per session: a hold of 8.00 + 1.00.
TARIFF = Tariff(price_kwh_millicents=40_000, session_fee_cents=100, max_energy_wh=20_000)
HOLD = 900

# The same, plus 0.10 EUR per idle minute after charging, 5 minutes free, at most 30 billed:
# a hold of 8.00 + 3.00 + 1.00.
IDLE_TARIFF = Tariff(
    price_kwh_millicents=40_000,
    session_fee_cents=100,
    usage_fee_minute_millicents=10_000,
    usage_grace_minutes=5,
    usage_max_minutes=30,
    usage_after_charging=True,
    max_energy_wh=20_000,
)
IDLE_HOLD = 1200

# 1 000 Wh -> 13 500 Wh: 12.5 kWh x 0.40 EUR + 1.00 EUR.
METER_START, METER_STOP, DUE = 1_000, 13_500, 600
WEBHOOK_PATHS = ("/API/Payments/Webhook", "/Payments/Webhook")
MONEY_PENDING = ("CapturePending", "ReleasePending")


class SteppedClock:
    """The server's clock, moved only by the test.

    It starts a minute ahead of the wall clock: the Stripe simulator checks a
    Checkout Session's ``expires_at`` against its own (wall) clock.
    """

    def __init__(self) -> None:
        self.start = utc_now().replace(microsecond=0) + timedelta(minutes=1)
        self.now = self.start

    def __call__(self) -> datetime:
        return self.now

    def set(self, offset: timedelta) -> datetime:
        self.now = self.start + offset
        return self.now

    def stamp(self, offset: timedelta = timedelta()) -> str:
        """An OCPP timestamp ``offset`` after the clock's start."""
        return (self.start + offset).isoformat().replace("+00:00", "Z")


class Door(Protocol):
    """Where the driver's calls go in: the one server, or any node of a cluster."""

    @property
    def api(self) -> httpx.AsyncClient: ...


def minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


def payments_of(server: RunningServer) -> PaymentContext:
    context: PaymentContext = server.app.state.payments
    return context


async def sweep(server: RunningServer) -> None:
    """One round of every sweep, and the work it spawned."""
    context = payments_of(server)
    await sweeps.sweep_once(context)
    await context.drain()


# --- the station and the charger -------------------------------------------------------------


async def price_station(server: RunningServer, tariff: Tariff, cp_id: str = CP) -> None:
    await add_charge_point(server.runtime.db, cp_id)
    async with server.runtime.db.session() as session:
        await tariffs.set_tariff(session, cp_id, tariff)


async def priced_charger(
    server: RunningServer, charger: ConnectCharger, tariff: Tariff = TARIFF, cp_id: str = CP
) -> TestCharger:
    """A priced station whose charger is online, its connector reported free."""
    await price_station(server, tariff, cp_id)
    cp = await charger(cp_id)
    await connector_status(cp, "Available")
    return cp


async def connector_status(cp: TestCharger, status: str, connector_id: int = 1) -> None:
    await cp.call(call.StatusNotification(connector_id, "NoError", status, timestamp=timestamp()))


async def connect(
    charger: ConnectCharger, clock: SteppedClock, connectors: Sequence[int] = (1,)
) -> TestCharger:
    """The charger comes online and reports its connectors free."""
    cp = await charger(CP)
    for connector in connectors:
        await report(cp, clock, connector, "Available")
    return cp


async def report(
    cp: TestCharger, clock: SteppedClock, connector: int, status: str, at: timedelta = timedelta()
) -> None:
    await cp.call(call.StatusNotification(connector, "NoError", status, timestamp=clock.stamp(at)))


async def next_call(cp: TestCharger | TestCharger201, action: str) -> dict[str, Any]:
    """The next command of this kind the server sends the charger."""
    async with asyncio.timeout(5):
        while True:
            received, request = await cp.received.get()
            if received == action:
                return request


def calls(cp: TestCharger | TestCharger201, action: str) -> list[dict[str, Any]]:
    return [request for received, request in cp.requests if received == action]


async def start_transaction(
    cp: TestCharger,
    clock: SteppedClock,
    id_tag: str,
    at: timedelta,
    meter_wh: int,
    connector: int = 1,
) -> int:
    started = await cp.call(call.StartTransaction(connector, id_tag, meter_wh, clock.stamp(at)))
    assert isinstance(started, call_result.StartTransaction)
    assert started.id_tag_info["status"] == "Accepted", started
    transaction_id: int = started.transaction_id
    return transaction_id


async def stop_transaction(
    cp: TestCharger,
    clock: SteppedClock,
    transaction_id: int,
    at: timedelta,
    meter_wh: int,
    reason: str = "Local",
    transaction_data: list[dict[str, Any]] | None = None,
) -> None:
    await cp.call(
        call.StopTransaction(
            meter_stop=meter_wh,
            timestamp=clock.stamp(at),
            transaction_id=transaction_id,
            reason=reason,
            transaction_data=transaction_data,
        )
    )


def energy_sample(clock: SteppedClock, at: timedelta, value: str, unit: str) -> dict[str, Any]:
    """One MeterValue with the energy register, as a 1.6 charger sends it."""
    return {
        "timestamp": clock.stamp(at),
        "sampledValue": [
            {
                "value": value,
                "context": "Sample.Periodic",
                "measurand": ENERGY_REGISTER,
                "location": "Outlet",
                "unit": unit,
            }
        ],
    }


async def send_meter(
    cp: TestCharger,
    clock: SteppedClock,
    transaction_id: int,
    at: timedelta,
    value: str,
    unit: str = "Wh",
    connector: int = 1,
) -> None:
    await cp.call(
        call.MeterValues(
            connector_id=connector,
            transaction_id=transaction_id,
            meter_value=[energy_sample(clock, at, value, unit)],
        )
    )


# --- the driver's side ------------------------------------------------------------------------


async def create_answer(
    server: Door,
    tag: str = "WEB-DRIVER",
    cp_id: str = CP,
    connector: int = 1,
    driver: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"chargePointId": cp_id, "connectorId": connector, "chargeTagId": tag}
    if driver is not None:
        body["driverKey"] = driver
    return await server.api.post("/API/Payments/Create", json=body)


async def create(
    server: Door,
    tag: str = "WEB-DRIVER",
    connector: int = 1,
    driver: str | None = None,
    cp_id: str = CP,
) -> dict[str, Any]:
    """A reservation that sends the driver to Stripe's hosted page."""
    response = await create_answer(server, tag, cp_id, connector, driver)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    assert created["status"] == "Redirect", created
    return created


async def post(server: Door, action: str, body: dict[str, Any]) -> httpx.Response:
    return await server.api.post(f"/API/Payments/{action}", json=body)


async def status(server: Door, reservation_id: str) -> dict[str, Any]:
    response = await server.api.get(
        "/API/Payments/Status", params={"reservationId": reservation_id}
    )
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def stage_is(server: Door, reservation_id: str, stage: str) -> dict[str, Any]:
    """Wait for the driver's page to show ``stage``; the view at that moment.

    Up to 30 s: a simulated charger's session under the coverage tracer, beside three
    other workers on two cores, was seen taking 10-14 s to reach charging.
    """
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        seen.update(await status(server, reservation_id))
        return bool(seen["sessionStage"] == stage)

    try:
        await eventually(reached, timeout=30)
    except TimeoutError:
        raise AssertionError(f"stage {stage!r} never reached; last view: {seen}") from None
    return seen


async def settled(
    server: Door, reservation_id: str, money: str, timeout: float = 5
) -> dict[str, Any]:
    """Wait for the receipt's money state; the receipt."""
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        seen.update(await status(server, reservation_id))
        receipt = seen.get("receipt") or {}
        return bool(receipt.get("moneyState") == money)

    try:
        await eventually(reached, timeout)
    except TimeoutError:
        raise AssertionError(f"money never {money!r}; last view: {seen}") from None
    receipt: dict[str, Any] = seen["receipt"]
    return receipt


@dataclass
class Paid:
    """A reservation the driver has paid for."""

    reservation_id: str
    session_id: str
    created: dict[str, Any]

    @property
    def checkout_url(self) -> str:
        return str(self.created["checkoutUrl"])


def checkout_session_id(checkout_url: str) -> str:
    return checkout_url.rsplit("/", 1)[1]  # the simulator's hosted page is /checkout/{id}


async def pay(server: Door, stripe_sim: StripeSim, created: dict[str, Any]) -> Paid:
    """The driver pays on the hosted page; the webhook authorizes (plug-first: awaiting plug)."""
    paid = await stripe_sim.pay(created["checkoutUrl"])
    assert paid.status_code == 303, paid.text
    reservation_id = created["reservationId"]
    await stage_is(server, reservation_id, "awaitingPlug")
    return Paid(reservation_id, checkout_session_id(created["checkoutUrl"]), created)


async def create_and_pay(server: Door, stripe_sim: StripeSim, connector: int = 1) -> Paid:
    return await pay(server, stripe_sim, await create(server, connector=connector))


async def start_charging(server: Door, cp: TestCharger, reservation_id: str) -> tuple[int, str]:
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


# --- our side of the money, for what the status view does not show ---------------------------


async def reservation(server: RunningServer, reservation_id: str) -> PaymentReservation:
    async with server.runtime.db.session() as session:
        row = await session.get(PaymentReservation, reservation_id)
        assert row is not None
        session.expunge(row)
        return row


def copy_of(row: PaymentReservation, **changes: Any) -> PaymentReservation:
    """A new row with ``row``'s values but ``changes``, to see what the database allows."""
    mapper: Mapper[PaymentReservation] = PaymentReservation.__mapper__
    values = {column.key: getattr(row, column.key) for column in mapper.column_attrs}
    return PaymentReservation(**(values | changes))


async def money_state_is(server: RunningServer, reservation_id: str, state: str) -> None:
    async def reached() -> bool:
        return (await reservation(server, reservation_id)).money_state == state

    await eventually(reached)


async def sweep_until_settled(
    server: RunningServer, reservation_id: str, timeout: float = 15
) -> PaymentReservation:
    """Run the sweeps, as the background task would, until no money action is pending."""
    await payments_of(server).drain()  # work already under way (a settlement, a cancel) goes first
    async with asyncio.timeout(timeout):
        while True:
            await sweep(server)
            row = await reservation(server, reservation_id)
            if row.money_state not in MONEY_PENDING:
                return row
            await asyncio.sleep(0.06)  # past the (test-sized) back-off


async def stored_event_ids(server: RunningServer) -> Counter[str]:
    async with server.runtime.db.session() as session:
        return Counter((await session.scalars(select(StripeWebhookEvent.id))).all())


# --- money, as Stripe sees it -------------------------------------------------------------


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


async def assert_captured(stripe_sim: StripeSim, paid: Paid, cents: int, hold: int) -> None:
    held = await intent(stripe_sim, paid.checkout_url)
    assert (held.status, held.amount, held.amount_received) == ("succeeded", hold, cents)
    assert held.amount_capturable == 0


async def assert_released(stripe_sim: StripeSim, paid: Paid) -> None:
    """The hold went back to the card: canceled, nothing received, nothing still held."""
    seen: list[stripe.PaymentIntent] = []

    async def released() -> bool:
        seen.append(await intent(stripe_sim, paid.checkout_url))
        return bool(seen[-1].status == "canceled")

    try:
        await eventually(released)
    except TimeoutError:
        raise AssertionError(f"the hold was never released: {seen[-1]}") from None
    assert (seen[-1].amount_received, seen[-1].amount_capturable) == (0, 0)


# --- the simulator's controls ----------------------------------------------------------------


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


async def delivery_over(stripe_sim: StripeSim, event_type: str) -> dict[str, Any]:
    """The event once it was delivered, or once the simulator gave up retrying it."""

    async def over() -> bool:
        found = await events(stripe_sim, event_type)
        if not found:
            return False
        attempts = await attempts_of(stripe_sim, found[0]["id"])
        # The harness's simulator tries four times (retry delays 0.2, 0.5, 1.0 s).
        return any(a["delivered"] for a in attempts) or len(attempts) == 4

    await eventually(over)
    return (await events(stripe_sim, event_type))[0]


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


# --- webhooks we sign ourselves, with Stripe's scheme ----------------------------------------


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
    async with httpx.AsyncClient(
        base_url=server.http_url, verify=trusted(), timeout=PATIENCE
    ) as web:
        return await web.post(path, content=payload, headers=headers)


# --- a server that can be stopped and started again -----------------------------------------


def reusable(sock: socket.socket) -> socket.socket:
    """Let the port be bound again while the connections it accepted linger in TIME_WAIT.

    Linux allows that only if those connections had SO_REUSEADDR too; they inherit
    it from the listening socket, so it must be set before the server listens.
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def socket_on(port: int) -> socket.socket:
    """A fresh socket on the port a stopped server used (for the webhook URL's sake)."""
    sock = reusable(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


@asynccontextmanager
async def running_server(
    settings: Settings, sock: socket.socket, clock: SteppedClock
) -> AsyncIterator[RunningServer]:
    """The server app on ``sock``, as the ``server`` fixture runs it; stopped on exit."""
    port = sock.getsockname()[1]
    app = create_server_app(settings, clock)
    async with (
        serving(uvicorn_config(app, settings), sock) as running,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"X-API-Key": API_KEY},
            verify=trusted(),
            timeout=PATIENCE,
        ) as api,
    ):
        yield RunningServer(app, port, api, running)
