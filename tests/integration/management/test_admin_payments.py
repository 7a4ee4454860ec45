"""Payments page over real HTTP: a reservation made through the server API with the Stripe
simulator is listed with its money, and Cancel (through the server) releases it."""

from __future__ import annotations

import html
import re
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from ocpp.v16 import call
from sqlalchemy import select

from builders import NOW, add_charge_point, timestamp
from integration.management.admin_helpers import follow, post_form
from integration.management.pages import ADMIN, VIEWER, RunningManagement, csrf_token, log_in
from ocpp_core.config import PaymentSettings, Settings
from ocpp_core.db.models import PaymentReservation
from ocpp_core.domain import tariffs
from ocpp_core.domain.pricing import Tariff
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim, running_stripe_sim

# 0.40 EUR/kWh up to 20 kWh and 1.00 EUR per session: a hold of 9.00 EUR.
TARIFF = Tariff(price_kwh_millicents=40_000, session_fee_cents=100, max_energy_wh=20_000)


@pytest.fixture
async def stripe_sim(server_socket: tuple[socket.socket, str]) -> AsyncIterator[StripeSim]:
    async with running_stripe_sim(f"{server_socket[1]}/API/Payments/Webhook") as sim:
        yield sim


@pytest.fixture
def settings(settings: Settings, stripe_sim: StripeSim) -> Settings:
    stripe_settings = stripe_sim.settings()
    payments = PaymentSettings(sweep_interval_seconds=3600)
    return settings.model_copy(update={"stripe": stripe_settings, "payments": payments})


async def reservation_made_through_the_server(
    server: RunningServer, charger: ConnectCharger
) -> str:
    await add_charge_point(server.runtime.db, "CP1")
    async with server.runtime.db.session() as session:
        await tariffs.set_tariff(session, "CP1", TARIFF)
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    body = {"chargePointId": "CP1", "connectorId": 1, "chargeTagId": "WEB-DRIVER"}
    created = await server.api.post("/API/Payments/Create", json=body)
    assert created.status_code == 200, created.text
    assert created.json()["status"] == "Redirect"
    reservation_id: str = created.json()["reservationId"]
    return reservation_id


async def test_a_reservation_is_listed_with_its_money_and_cancel_releases_it(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    management: RunningManagement,
    client: httpx.AsyncClient,
) -> None:
    reservation_id = await reservation_made_through_the_server(server, charger)
    await log_in(client, *ADMIN)

    html = (await client.get("/Home/Payments")).text
    row = html[html.index(f'data-reservation="{reservation_id}"') :]
    row = row[: row.index("</tr>")]
    assert 'data-status="PendingPayment"' in row
    assert "9.00 EUR" in row
    assert "WEB-DRIVER" in row
    assert "cs_" in row  # the Checkout Session id
    assert f'aria-label="Cancel reservation {reservation_id}"' in row

    cancelled = await post_form(
        client,
        "/Home/Payments",
        {"reservation_id": reservation_id, "back": "/Home/Payments"},
        "/Home/Payments/Cancel",
    )
    after = await follow(client, cancelled)

    assert "Reservation cancelled; its card hold is released." in after
    row = after[after.index(f'data-reservation="{reservation_id}"') :]
    row = row[: row.index("</tr>")]
    assert 'data-status="Cancelled"' in row
    assert "Cancel reservation" not in row
    async with management.db.session() as session:
        stored = await session.scalar(
            select(PaymentReservation).where(PaymentReservation.id == reservation_id)
        )
        assert stored is not None
        assert stored.status == "Cancelled"
        checkout_id = stored.checkout_session_id
    assert checkout_id is not None
    checkout = await stripe_sim.client.v1.checkout.sessions.retrieve_async(checkout_id)
    assert checkout.status == "expired"  # the driver can no longer pay it

    filtered = (await client.get("/Home/Payments", params={"status": "Authorized"})).text
    assert reservation_id not in filtered


async def test_a_viewer_sees_reservations_but_can_not_cancel(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    management: RunningManagement,
    client: httpx.AsyncClient,
) -> None:
    reservation_id = await reservation_made_through_the_server(server, charger)
    await log_in(client, *VIEWER)
    html = (await client.get("/Home/Payments")).text

    response = await client.post(
        "/Home/Payments/Cancel",
        data={"csrf_token": csrf_token(html), "reservation_id": reservation_id},
    )

    assert reservation_id in html
    assert "Cancel reservation" not in html
    assert response.status_code == 403
    async with management.db.session() as session:
        stored = await session.get(PaymentReservation, reservation_id)
        assert stored is not None
        assert stored.status == "PendingPayment"


async def test_a_charge_point_with_a_reservation_in_progress_is_not_deleted(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    management: RunningManagement,
    client: httpx.AsyncClient,
) -> None:
    reservation_id = await reservation_made_through_the_server(server, charger)
    await log_in(client, *ADMIN)

    refused = await post_form(
        client,
        "/Home/ChargePoint/CP1?confirm=delete",
        {"action": "delete"},
        "/Home/ChargePoint/CP1",
    )

    assert "has a payment reservation in progress" in await follow(client, refused)
    async with management.db.session() as session:
        assert await session.get(PaymentReservation, reservation_id) is not None


@pytest.mark.parametrize(
    ("status", "money_state"),
    [
        ("Completed", "CapturePending"),
        ("Cancelled", "ReleasePending"),
        ("Completed", "ReviewRequired"),
    ],
)
async def test_a_charge_point_whose_payment_is_not_settled_is_not_deleted(
    status: str, money_state: str, management: RunningManagement, client: httpx.AsyncClient
) -> None:
    """The session ended, but its hold is still to be captured, released or reviewed."""
    await add_charge_point(management.db, "CP1")
    ended = waiting_reservation(1)
    ended.status, ended.money_state = status, money_state
    async with management.db.session() as session:
        session.add(ended)
    await log_in(client, *ADMIN)

    confirm = await client.get("/Home/ChargePoint/CP1", params={"confirm": "delete"})
    refused = await post_form(
        client,
        "/Home/ChargePoint/CP1?confirm=delete",
        {"action": "delete"},
        "/Home/ChargePoint/CP1",
    )

    assert "its payment is not yet settled" in html.unescape(confirm.text)
    assert "a payment not yet settled" in await follow(client, refused)
    async with management.db.session() as session:
        kept = await session.get(PaymentReservation, ended.id)
        assert kept is not None
        assert kept.money_state == money_state


def waiting_reservation(number: int) -> PaymentReservation:
    """A reservation waiting for payment at connector ``number``, made ``number`` minutes ago."""
    made = NOW - timedelta(minutes=number)
    return PaymentReservation(
        id=f"r-{number:02d}",
        charge_point_id="CP1",
        connector_id=number,
        charge_tag_id="WEB-DRIVER",
        ocpp_id_tag="WEB-DRIVER",
        status="PendingPayment",
        price_kwh_millicents=TARIFF.price_kwh_millicents,
        session_fee_cents=TARIFF.session_fee_cents,
        usage_fee_minute_millicents=0,
        usage_grace_minutes=0,
        usage_max_minutes=0,
        usage_after_charging=False,
        max_energy_wh=TARIFF.max_energy_wh,
        currency="eur",
        hold_cents=900,
        created_at=made,
        updated_at=made,
    )


async def test_reservations_come_fifty_a_page_and_cancel_comes_back_to_the_page(
    server: RunningServer, management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    async with server.runtime.db.session() as session:
        session.add_all(waiting_reservation(number) for number in range(1, 52))
    await log_in(client, *ADMIN)

    first = (await client.get("/Home/Payments", params={"cp": "CP1"})).text
    older = re.search(r'href="(/Home/Payments\?[^"]+)" rel="next"', first)
    assert older is not None
    second_url = html.unescape(older.group(1))
    second = (await client.get(second_url)).text

    shown = re.compile(r'data-reservation="([^"]+)"')
    assert shown.findall(first) == [f"r-{number:02d}" for number in range(1, 51)]  # newest first
    assert second_url.startswith("/Home/Payments?cp=CP1&before=")
    assert 'rel="prev"' not in first
    assert 'name="back" value="/Home/Payments?cp=CP1"' in first
    assert shown.findall(second) == ["r-51"]
    assert 'href="/Home/Payments?cp=CP1" rel="first"' in second
    assert 'rel="next"' not in second
    assert f'name="back" value="{html.escape(second_url)}"' in second
