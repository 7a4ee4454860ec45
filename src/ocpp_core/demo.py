"""``ocpp-core demo``: the whole product on one machine, on the embedded defaults.

A fresh SQLite database; an admin; priced charge points (one free); the
server, the management app and the Stripe simulator (its webhooks signed and
pointed at the server); and simulated chargers that plug in when a driver has
paid, charge, and unplug after the stop. Connector 2 of every charger is
started with an RFID card through the API, so the dashboard shows charging at
once; connector 1 waits for a driver who scans the QR code.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Collection
from pathlib import Path

import click
import httpx
import uvicorn
from pydantic import SecretStr
from sqlalchemy import Select, select

from ocpp_core import one_process
from ocpp_core.clock import utc_now
from ocpp_core.config import ManagementSettings, OcppSettings, Settings, StripeSettings
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.models import ChargePoint, PaymentReservation
from ocpp_core.db.session import Database
from ocpp_core.demo_ports import PORT_OPTIONS, Ports
from ocpp_core.domain import chargepoints, tags, tariffs, users
from ocpp_core.domain.chargepoints import NewChargePoint
from ocpp_core.domain.pricing import Tariff
from ocpp_core.domain.tags import NewTag
from ocpp_core.listening import CannotServe, Listener, bind, load, reason, running
from ocpp_core.payments import holding
from ocpp_core.payments.states import Status
from ocpp_core.qr import label_sheet_pdf, labels_for
from ocpp_core.simulators.chargepoint.fleet import Fleet
from ocpp_core.simulators.chargepoint.settings import FleetSettings
from ocpp_core.simulators.stripe.app import create_stripe_simulator
from ocpp_core.simulators.stripe.settings import StripeSimulatorSettings
from ocpp_core.tls_trust import trusted

HOST = "127.0.0.1"
DEMO_DB = "ocpp-core-demo.sqlite"
DEMO_LABELS = "ocpp-core-demo-labels.pdf"
PREFIX = "DEMO-"
CARD = "DEMO-CARD"
PROTOCOLS = ("ocpp1.6", "ocpp2.0.1")  # a mixed fleet: every other charger speaks 2.0.1
TARIFFS = (
    Tariff(price_kwh_millicents=39_000, session_fee_cents=100, max_energy_wh=30_000),
    Tariff(
        price_kwh_millicents=45_000,
        usage_fee_minute_millicents=10_000,
        usage_grace_minutes=30,
        usage_max_minutes=60,
        usage_after_charging=True,
        max_energy_wh=40_000,
    ),
    Tariff(free=True),
)


_APPS = {
    "server": "the server",
    "management": "the management app",
    "stripe": "the Stripe simulator",
}


def bind_ports(wanted: Ports, flexible: Collection[str]) -> tuple[Ports, list[socket.socket]]:
    """The demo's sockets; a busy port named in ``flexible`` is swapped for a free one.

    The demo exists to just work: a default port some other program holds is no
    reason to stop. Everything is built from the ports taken here, so the links,
    the webhook target and the QR codes all point at them.
    """
    taken: list[socket.socket] = []
    try:
        for name in PORT_OPTIONS:
            taken.append(_bind(name, getattr(wanted, name), name in flexible))
    except BaseException:
        for sock in taken:
            sock.close()
        raise
    ports = Ports(*(sock.getsockname()[1] for sock in taken))
    return ports, taken


def _bind(name: str, port: int, flexible: bool) -> socket.socket:
    try:
        return bind(HOST, port)
    except OSError as error:
        if not flexible:
            raise CannotServe(
                f"can't listen on {HOST}:{port}: {reason(error)}; "
                f"choose another port with {PORT_OPTIONS[name]}"
            ) from None
    sock = bind(HOST, 0)
    click.echo(f"port {port} is busy: {_APPS[name]} takes {sock.getsockname()[1]} instead")
    return sock


def demo_settings(ports: Ports, database: Path) -> Settings:
    management_url = f"http://127.0.0.1:{ports.management}"
    return Settings(
        database_url=f"sqlite:///{database}",
        api_key=SecretStr(secrets.token_urlsafe(24)),
        port=ports.server,
        log_level="warning",
        public_base_url=management_url,
        ocpp=OcppSettings(heartbeat_interval=60),
        stripe=StripeSettings(
            enabled=True,
            api_key=SecretStr(f"sk_test_demo_{secrets.token_hex(12)}"),
            webhook_secret=SecretStr(f"whsec_{secrets.token_hex(16)}"),
            return_base_url=management_url,
            api_base=f"http://127.0.0.1:{ports.stripe}",
        ),
        management=ManagementSettings(
            port=ports.management,
            server_api_url=f"http://127.0.0.1:{ports.server}",
            session_secret=SecretStr(secrets.token_urlsafe(32)),
        ),
    )


async def provision(
    settings: Settings, count: int, password: str, admin_password: str, labels_pdf: Path
) -> None:
    await upgrade(settings.database_url)
    db = Database(settings.database_url, limits=settings.database)
    now = utc_now()
    try:
        async with db.session() as session:
            rows = [
                NewChargePoint(f"{PREFIX}{i:04d}", f"Demo charger {i}", password)
                for i in range(1, count + 1)
            ]
            await chargepoints.add_many(session, rows, now=now)
            for i, row in enumerate(rows):
                await tariffs.set_tariff(session, row.id, TARIFFS[i % len(TARIFFS)])
            await tags.add(session, NewTag(CARD, "Demo fleet card"), now=now)
            await users.add(
                session,
                name="admin",
                password=admin_password,
                role=users.Role.ADMIN,
                now=now,
                cost=settings.management.password_hash_cost,
            )
        async with db.session() as session:
            labels = await labels_for(
                session, settings.public_base_url, None, settings.stripe.currency
            )
        await asyncio.to_thread(labels_pdf.write_bytes, label_sheet_pdf(labels))
    finally:
        await db.close()


async def run_demo(
    wanted: Ports,
    count: int,
    duration: float | None,
    *,
    folder: Path = Path(),
    admin_password: str | None = None,
    flexible: Collection[str] = (),
) -> None:
    """Run until ``duration`` passes (or forever); files go to ``folder``.

    Ports named in ``flexible`` (``server``, ``management``, ``stripe``) are
    replaced by free ones when busy; any other busy port stops the demo.
    """
    ports, sockets = bind_ports(wanted, flexible)
    try:
        await _run_demo(ports, sockets, count, duration, folder, admin_password)
    finally:
        for sock in sockets:
            sock.close()


async def _run_demo(
    ports: Ports,
    sockets: list[socket.socket],
    count: int,
    duration: float | None,
    folder: Path,
    admin_password: str | None,
) -> None:
    database, labels_pdf = folder / DEMO_DB, folder / DEMO_LABELS
    await asyncio.to_thread(database.unlink, missing_ok=True)
    settings = demo_settings(ports, database)
    password = secrets.token_urlsafe(18)
    admin_password = admin_password or secrets.token_urlsafe(12)
    await provision(settings, count, password, admin_password, labels_pdf)
    settings = settings.model_copy(update={"migrate_on_start": False})  # done just now
    stripe_sim = create_stripe_simulator(
        StripeSimulatorSettings(
            public_base_url=f"http://127.0.0.1:{ports.stripe}",
            webhook_url=f"http://127.0.0.1:{ports.server}/API/Payments/Webhook",
            webhook_secret=settings.stripe.webhook_secret.get_secret_value(),
        )
    )
    stripe_config = uvicorn.Config(stripe_sim, host=HOST, port=ports.stripe, log_level="warning")
    # As ``serve`` runs them: the management app in a process of its own.
    listeners = (*one_process.listeners(settings), Listener(stripe_config, PORT_OPTIONS["stripe"]))
    for listener in listeners:
        load(listener.config)
    fleet_settings = FleetSettings(
        url=f"ws://127.0.0.1:{ports.server}/OCPP",
        count=count,
        id_prefix=PREFIX,
        password=password,
        # A DC fast charger: kWh rise quickly to watch, in real time. A sped-up clock
        # would date the sessions in the future on the dashboard.
        power_w=150_000.0,
        meter_interval=2.0,
        protocol_mix=PROTOCOLS,
    )
    bound = zip(listeners, sockets, strict=True)
    async with running(*bound), Fleet(fleet_settings) as fleet:
        async with asyncio.timeout(30):
            await fleet.wait_booted()
        _banner(settings, ports, count, admin_password, labels_pdf)
        headers = {"X-API-Key": settings.api_key.get_secret_value()}
        base = f"http://127.0.0.1:{ports.server}"
        async with httpx.AsyncClient(base_url=base, headers=headers, verify=trusted()) as api:
            await _start_card_sessions(api, fleet)
            plugging = asyncio.create_task(_plug_in_paid(settings, fleet))
            try:
                await _watch(api, duration)
            finally:
                plugging.cancel()
                await asyncio.gather(plugging, return_exceptions=True)


def _banner(
    settings: Settings, ports: Ports, count: int, admin_password: str, labels_pdf: Path
) -> None:
    management = f"http://127.0.0.1:{ports.management}"
    server = f"http://127.0.0.1:{ports.server}"
    click.echo(
        f"\nocpp-core demo: {count} simulated chargers "
        f"(OCPP {' and '.join(p.removeprefix('ocpp') for p in PROTOCOLS)} in turn), "
        f"database {DEMO_DB}\n"
        f"  dashboard:    {management}/  (user admin, password {admin_password})\n"
        f"  pay to charge: {management}/cp/{PREFIX}0001/1  (card 4242 4242 4242 4242)\n"
        f"  free station: {management}/cp/{PREFIX}0003/1\n"
        f"  QR labels to print: {labels_pdf.resolve()}\n"
        f"  server API:   curl -H 'X-API-Key: {settings.api_key.get_secret_value()}' "
        f"{server}/API/Status\n"
        f"  Stripe simulator: http://127.0.0.1:{ports.stripe}\n"
        "Press Ctrl-C to stop.\n"
    )


async def _start_card_sessions(api: httpx.AsyncClient, fleet: Fleet) -> None:
    """Connector 2 of every charger charges on an RFID card, so the dashboard moves.

    The car is plugged in first, so the charger starts at once rather than wait for it.
    """
    for charger in fleet.chargers:
        await charger.plug_in(2)
        answer = (await api.get(f"/API/StartTransaction/{charger.id}/2/{CARD}")).json()
        click.echo(f"card session on {charger.id} connector 2: {answer.get('status')}")


async def _plug_in_paid(settings: Settings, fleet: Fleet) -> None:
    """The driver who paid plugs the car in: the simulated connector reports Preparing."""
    chargers = {charger.id: charger for charger in fleet.chargers}
    db = Database(settings.database_url, limits=settings.database)
    try:
        while True:
            async with db.session() as session:
                waiting = (await session.execute(_waiting_for_the_car())).all()
            for charge_point_id, connector_id in waiting:
                if charge_point_id in chargers:
                    await chargers[charge_point_id].plug_in(connector_id)
            await asyncio.sleep(1)
    finally:
        await db.close()


def _waiting_for_the_car() -> Select[str, int]:
    """Where a paid session waits for the driver's car.

    Started under the charger's reservation, the charger waits for it. A session
    still to be started waits for it only once no reservation is coming (the charger
    takes none, or refused this one): a car plugged in before would be what keeps
    the charger from reserving the connector.
    """
    return (
        select(PaymentReservation.charge_point_id, PaymentReservation.connector_id)
        .join(ChargePoint, ChargePoint.id == PaymentReservation.charge_point_id)
        .where(PaymentReservation.awaiting_plug.is_(True))
        .where(
            (PaymentReservation.status == Status.START_REQUESTED.value)
            | ((PaymentReservation.status == Status.AUTHORIZED.value) & holding.no_hold_coming())
        )
    )


async def _watch(api: httpx.AsyncClient, duration: float | None) -> None:
    loop = asyncio.get_running_loop()
    deadline = None if duration is None else loop.time() + duration
    while deadline is None or loop.time() < deadline:
        await asyncio.sleep(min(10.0, duration or 10.0))
        _print_status((await api.get("/API/Status")).json())


def _print_status(chargers: list[dict[str, object]]) -> None:
    click.echo(f"\n{'CHARGER':<12} {'CONN':>4} {'STATUS':<14} {'kW':>6} {'METER kWh':>10}")
    for charger in chargers:
        connectors = charger["connectors"]
        assert isinstance(connectors, list)
        for c in connectors:
            kw = f"{c['powerW'] / 1000:.1f}" if c["powerW"] is not None else "-"
            kwh = f"{c['meterWh'] / 1000:.2f}" if c["meterWh"] is not None else "-"
            line = f"{charger['id']!s:<12} {c['connectorId']:>4} {c['status'] or '-':<14}"
            click.echo(f"{line} {kw:>6} {kwh:>10}")
