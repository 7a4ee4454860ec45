"""A driver's paid session, step by step, for the failure and restart tests.

Everything goes through the public surfaces: the HTTP API, a real OCPP charger
and the Stripe simulator (read through the official SDK). The server's clock
is a :class:`SteppedClock` the test moves, and the charger's timestamps are
taken from the same timeline, so deadlines and idle minutes are exact.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import stripe
from ocpp.v16 import call, call_result

from builders import add_charge_point
from chargers import TestCharger
from ocpp_core.clock import utc_now
from ocpp_core.config import Settings
from ocpp_core.domain import tariffs
from ocpp_core.domain.pricing import Tariff
from ocpp_core.payments import sweeps
from ocpp_core.payments.context import PaymentContext
from ocpp_core.server.app import create_server_app
from ocpp_core.server.run import uvicorn_config
from servers import API_KEY, ConnectCharger, RunningServer, serving
from stripe_harness import StripeSim, eventually

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


def minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


def payments_of(server: RunningServer) -> PaymentContext:
    payments: PaymentContext = server.app.state.payments
    return payments


async def sweep(server: RunningServer) -> None:
    """One round of every sweep, and the work it spawned."""
    payments = payments_of(server)
    await sweeps.sweep_once(payments)
    await payments.drain()


# --- provisioning and the charger ---------------------------------------------------------


async def price_station(server: RunningServer, tariff: Tariff) -> None:
    await add_charge_point(server.runtime.db, CP)
    async with server.runtime.db.session() as session:
        await tariffs.set_tariff(session, CP, tariff)


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


async def next_call(cp: TestCharger, action: str) -> dict[str, Any]:
    """The next command of this kind the server sends the charger."""
    async with asyncio.timeout(5):
        while True:
            received, request = await cp.received.get()
            if received == action:
                return request


def calls(cp: TestCharger, action: str) -> list[dict[str, Any]]:
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


async def create_raw(
    server: RunningServer, connector: int = 1, tag: str = "WEB-DRIVER"
) -> httpx.Response:
    body = {"chargePointId": CP, "connectorId": connector, "chargeTagId": tag}
    return await server.api.post("/API/Payments/Create", json=body)


async def create(server: RunningServer, connector: int = 1) -> dict[str, Any]:
    response = await create_raw(server, connector)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    assert created["status"] == "Redirect", created
    return created


async def status(server: RunningServer, reservation_id: str) -> dict[str, Any]:
    response = await server.api.get(
        "/API/Payments/Status", params={"reservationId": reservation_id}
    )
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def stage_is(server: RunningServer, reservation_id: str, stage: str) -> dict[str, Any]:
    """Wait for the driver's page to show ``stage``; the view at that moment."""
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        seen.update(await status(server, reservation_id))
        return bool(seen["sessionStage"] == stage)

    try:
        await eventually(reached)
    except TimeoutError:
        raise AssertionError(f"stage {stage!r} never reached; last view: {seen}") from None
    return seen


async def settled(server: RunningServer, reservation_id: str, money: str) -> dict[str, Any]:
    """Wait for the receipt's money state; the receipt."""
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        seen.update(await status(server, reservation_id))
        receipt = seen.get("receipt") or {}
        return bool(receipt.get("moneyState") == money)

    try:
        await eventually(reached)
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


def checkout_session_id(checkout_url: str) -> str:
    return checkout_url.rsplit("/", 1)[1]  # the simulator's hosted page is /checkout/{id}


async def pay(server: RunningServer, stripe_sim: StripeSim, created: dict[str, Any]) -> Paid:
    """The driver pays on the hosted page; the webhook authorizes (plug-first: awaiting plug)."""
    paid = await stripe_sim.pay(created["checkoutUrl"])
    assert paid.status_code == 303, paid.text
    reservation_id = created["reservationId"]
    await stage_is(server, reservation_id, "awaitingPlug")
    return Paid(reservation_id, checkout_session_id(created["checkoutUrl"]), created)


async def create_and_pay(server: RunningServer, stripe_sim: StripeSim, connector: int = 1) -> Paid:
    return await pay(server, stripe_sim, await create(server, connector))


# --- money, as Stripe sees it -------------------------------------------------------------


async def intent(stripe_sim: StripeSim, paid: Paid) -> stripe.PaymentIntent:
    return await stripe_sim.intent_of(paid.session_id)


async def assert_captured(stripe_sim: StripeSim, paid: Paid, cents: int, hold: int) -> None:
    held = await intent(stripe_sim, paid)
    assert (held.status, held.amount, held.amount_received) == ("succeeded", hold, cents)
    assert held.amount_capturable == 0


async def assert_released(stripe_sim: StripeSim, paid: Paid) -> None:
    """The hold went back to the card: canceled, nothing received, nothing still held."""
    seen: list[stripe.PaymentIntent] = []

    async def released() -> bool:
        seen.append(await intent(stripe_sim, paid))
        return bool(seen[-1].status == "canceled")

    try:
        await eventually(released)
    except TimeoutError:
        raise AssertionError(f"the hold was never released: {seen[-1]}") from None
    assert (seen[-1].amount_received, seen[-1].amount_capturable) == (0, 0)


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
            base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": API_KEY}
        ) as api,
    ):
        yield RunningServer(app, port, api, running)
