"""Unpaid attempts on the driver pages: a brief hold, one per browser, late payments explained.

Two drivers are two httpx clients with their own cookies, against the real
server, the Stripe simulator and a real OCPP charger. Time passes by moving
the server's and the management app's clocks together.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from integration.management.pages import RunningManagement, csrf_token
from integration.management.public_harness import online, post_start, price_station, report
from integration.payments.payflow import checkout, checkout_session_id, set_clock
from ocpp_core.clock import utc_now
from ocpp_core.db.models import PaymentReservation
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim, eventually

START = "/Public/Start?cp=CP1&conn={}"
PAY = "Pay and start charging"


def words(response: httpx.Response) -> str:
    return " ".join(html.unescape(response.text).split())


async def rows(server: RunningServer) -> list[PaymentReservation]:
    async with server.runtime.db.session() as session:
        found = await session.scalars(
            select(PaymentReservation).order_by(PaymentReservation.created_at)
        )
        session.expunge_all()
        return list(found)


def move_clocks(server: RunningServer, site: RunningManagement, now: datetime) -> None:
    set_clock(server, now)
    offset = now - utc_now()
    site.context.clock = lambda: utc_now() + offset


async def session_page_says(phone: httpx.AsyncClient, reservation_id: str, said: str) -> None:
    async def shown() -> bool:
        page = await phone.get("/Payments/Status", params={"reservationId": reservation_id})
        return said in words(page)

    await eventually(shown)


async def test_after_a_brief_hold_the_next_driver_takes_a_connector_left_unpaid(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    public_site: RunningManagement,
    driver: httpx.AsyncClient,
    other_driver: httpx.AsyncClient,
) -> None:
    await price_station(pay_server, "CP1")
    await online(pay_charger, "CP1")
    first_checkout = (await post_start(driver)).headers["location"]
    (first,) = await rows(pay_server)
    hold = timedelta(minutes=public_site.context.settings.payments.unpaid_hold_minutes)

    # Within the hold the connector is the first driver's.
    held = await other_driver.get(START.format(1))
    assert 'data-status="reserved"' in held.text
    assert PAY not in words(held)

    move_clocks(pay_server, public_site, first.created_at + hold + timedelta(seconds=1))
    free = await other_driver.get(START.format(1))
    assert 'data-status="available"' in free.text
    taken = await post_start(other_driver)

    assert taken.status_code == 303
    assert taken.headers["location"].startswith(f"{stripe_sim.url}/checkout/cs_")
    assert (await checkout(stripe_sim, first_checkout)).status == "expired"
    assert (await stripe_sim.pay(first_checkout)).status_code == 400
    await session_page_says(driver, first.id, "so another driver took the connector")


async def test_a_browser_holds_one_unpaid_attempt_a_new_start_replaces_the_last(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    driver: httpx.AsyncClient,
    other_driver: httpx.AsyncClient,
) -> None:
    await price_station(pay_server, "CP1")
    cp = await online(pay_charger, "CP1")
    await report(cp, "Available", 2)
    first_checkout = (await post_start(driver, conn=1)).headers["location"]

    second = await post_start(driver, conn=2)

    assert second.status_code == 303
    first, latest = await rows(pay_server)
    assert (first.status, first.failure_code) == ("Abandoned", "Replaced")
    assert latest.status == "PendingPayment"
    assert first.driver_key == latest.driver_key is not None
    assert (await checkout(stripe_sim, first_checkout)).status == "expired"
    await session_page_says(driver, first.id, "You started another session")
    # The connector it held is free for the next driver at once.
    assert PAY in words(await other_driver.get(START.format(1)))


async def test_a_payment_made_after_the_attempt_ended_is_given_back_and_the_page_says_so(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    driver: httpx.AsyncClient,
) -> None:
    await price_station(pay_server, "CP1")
    await online(pay_charger, "CP1")
    checkout_url = (await post_start(driver)).headers["location"]
    session_id = checkout_session_id(checkout_url)
    # The driver cancels, but Stripe fails the expiry: the payment page stays open in a tab.
    await stripe_sim.fault("POST", f"/v1/checkout/sessions/{session_id}/expire", "error")
    page = await driver.get(START.format(1))
    form = {"csrf_token": csrf_token(page.text), "cp": "CP1", "conn": "1"}
    assert (await driver.post("/Public/CancelRecovery", data=form)).status_code == 200
    await pay_server.app.state.payments.drain()
    assert (await checkout(stripe_sim, checkout_url)).status == "open"

    paid = await stripe_sim.pay(checkout_url)
    back = await driver.get(paid.headers["location"])

    assert back.status_code == 303
    (row,) = await rows(pay_server)
    assert back.headers["location"] == f"/Payments/Status?reservationId={row.id}"
    status = await driver.get(back.headers["location"])
    assert "Your payment arrived after this reservation had ended" in words(status)

    async def given_back() -> bool:
        held = await stripe_sim.intent_of(session_id)
        return bool(held.status == "canceled")

    await eventually(given_back)
