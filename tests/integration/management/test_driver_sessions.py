"""A driver's session is theirs alone: found through their cookie, cancelled only by them.

Two drivers are two httpx clients, each with its own cookie jar, against the real
server, the Stripe simulator and a real OCPP charger.
"""

from __future__ import annotations

import html

import httpx
import pytest
from sqlalchemy import select

from integration.management.pages import RunningManagement, csrf_token
from integration.management.public_harness import (
    online,
    post_start,
    price_station,
    report,
    reservation_of,
)
from integration.payments.payflow import assert_nothing_held, checkout
from ocpp_core.db.models import PaymentReservation
from ocpp_core.management.driver_cookie import COOKIE
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim, eventually

CANCEL_UNPAID = "Cancel this unpaid attempt"


def words(response: httpx.Response) -> str:
    return " ".join(html.unescape(response.text).split())


async def reservation(server: RunningServer, reservation_id: str) -> PaymentReservation:
    async with server.runtime.db.session() as session:
        row = await session.scalar(
            select(PaymentReservation).where(PaymentReservation.id == reservation_id)
        )
        assert row is not None
        session.expunge(row)
        return row


async def cancel_unpaid(phone: httpx.AsyncClient, page_url: str) -> httpx.Response:
    """Press the page's "Cancel this unpaid attempt" button."""
    page = await phone.get(page_url)
    assert CANCEL_UNPAID in words(page)
    form = {"csrf_token": csrf_token(page.text), "cp": "CP1", "conn": "1"}
    return await phone.post("/Public/CancelRecovery", data=form)


async def assert_cancelled_and_nothing_held(
    server: RunningServer, stripe_sim: StripeSim, reservation_id: str, checkout_url: str
) -> None:
    async def released() -> bool:
        return (await reservation(server, reservation_id)).money_state == "Released"

    await eventually(released)
    row = await reservation(server, reservation_id)
    assert (row.status, row.failure_message) == ("Cancelled", "public_recovery_cancelled")
    assert (await checkout(stripe_sim, checkout_url)).status == "expired"
    await assert_nothing_held(stripe_sim, checkout_url)


@pytest.mark.parametrize("where", ["start", "status"])
async def test_a_driver_cancels_their_unpaid_attempt(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    driver: httpx.AsyncClient,
    where: str,
) -> None:
    await price_station(pay_server, "CP1")
    await online(pay_charger, "CP1")
    checkout_url = (await post_start(driver)).headers["location"]
    async with pay_server.runtime.db.session() as session:
        reservation_id = await session.scalar(select(PaymentReservation.id))
    assert reservation_id is not None
    page_url = (
        "/Public/Start?cp=CP1&conn=1"
        if where == "start"
        else f"/Payments/Status?reservationId={reservation_id}"
    )
    if where == "status":  # one way out of an unpaid attempt, not a Stop button as well
        assert "Cancel this session" not in words(await driver.get(page_url))

    cancelled = await cancel_unpaid(driver, page_url)

    assert cancelled.status_code == 200
    assert "You cancelled the payment. Nothing was charged" in words(cancelled)
    await assert_cancelled_and_nothing_held(pay_server, stripe_sim, reservation_id, checkout_url)
    fresh = await driver.get("/Public/Start", params={"cp": "CP1", "conn": "1"})
    assert CANCEL_UNPAID not in words(fresh)
    assert "Pay and start charging" in words(fresh)


async def test_a_paid_session_offers_no_unpaid_cancel(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    driver: httpx.AsyncClient,
) -> None:
    await price_station(pay_server, "CP1")
    await online(pay_charger, "CP1")
    paid = await stripe_sim.pay((await post_start(driver)).headers["location"])
    status_url = (await driver.get(paid.headers["location"])).headers["location"]

    for page_url in (status_url, "/Public/Start?cp=CP1&conn=1"):
        assert CANCEL_UNPAID not in words(await driver.get(page_url))


async def test_one_drivers_cookie_never_reveals_another_drivers_session(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    public_site: RunningManagement,
    driver: httpx.AsyncClient,
    other_driver: httpx.AsyncClient,
) -> None:
    await price_station(pay_server, "CP1", name="Harbour")
    cp = await online(pay_charger, "CP1")
    await report(cp, "Available", 2)
    # Driver A pays on connector 1 and is waiting for the plug.
    paid = await stripe_sim.pay((await post_start(driver)).headers["location"])
    status_url = (await driver.get(paid.headers["location"])).headers["location"]
    a_id = reservation_of(status_url)
    a_before = await reservation(pay_server, a_id)
    assert a_before.status == "Authorized"
    own = await driver.get(status_url)
    assert own.status_code == 200
    assert "Cancel this session" in words(own)  # what B must never be offered
    secrets_of_a = (a_before.charge_tag_id, "You have a session", "Your charging session")

    # Driver B scans both connectors: the start pages say nothing of A's session.
    for conn in ("1", "2"):
        page = await other_driver.get("/Public/Start", params={"cp": "CP1", "conn": conn})
        assert page.status_code == 200
        for secret in (*secrets_of_a, a_id, CANCEL_UNPAID, "Cancel this session", "Stop charging"):
            assert secret not in words(page), (conn, secret)

    # B knows A's reservation id: no status page, fragment or receipt (the id B typed in
    # may be echoed, e.g. in a language link, but nothing of the session is).
    for path in ("/Payments/Status", "/Payments/StatusFragment"):
        seen = await other_driver.get(path, params={"reservationId": a_id})
        assert seen.status_code == 404, path
        assert "Session not found" in words(seen)
        for secret in secrets_of_a:
            assert secret not in words(seen)
    # ...and nothing B sends with A's ids stops or cancels it.
    token = csrf_token((await other_driver.get("/Public/Start?cp=CP1&conn=2")).text)
    refused = [
        await other_driver.post(
            "/Payments/Stop", data={"csrf_token": token, "reservationId": a_id}
        ),
        await other_driver.post(
            "/Public/CancelRecovery",
            data={"csrf_token": token, "cp": "CP1", "conn": "1", "reservationId": a_id},
        ),
        await other_driver.get("/Payments/Cancel", params={"reservationId": a_id}),
        await other_driver.post(
            "/Payments/Cancel", data={"csrf_token": token, "reservationId": a_id}
        ),
    ]
    assert [answer.status_code for answer in refused] == [404, 404, 404, 404]

    # A cookie tampered with is ignored, as if there were none.
    a_cookie = driver.cookies[COOKIE]
    forged = a_cookie[:-2] + ("AA" if not a_cookie.endswith("AA") else "BB")
    async with httpx.AsyncClient(base_url=public_site.url, cookies={COOKIE: forged}) as tampered:
        assert (await tampered.get(status_url)).status_code == 404
        start = await tampered.get("/Public/Start", params={"cp": "CP1", "conn": "1"})
        assert "You have a session" not in words(start)
        token = csrf_token((await tampered.get("/Public/Start?cp=CP1&conn=2")).text)
        stop = await tampered.post(
            "/Payments/Stop", data={"csrf_token": token, "reservationId": a_id}
        )
        assert stop.status_code == 404

    a_after = await reservation(pay_server, a_id)
    assert (a_after.status, a_after.money_state, a_after.authorized_cents) == (
        a_before.status,
        a_before.money_state,
        a_before.authorized_cents,
    )
    assert (await driver.get(status_url)).status_code == 200  # still A's own


async def test_paying_in_another_browser_makes_the_session_that_browsers(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    public_site: RunningManagement,
    driver: httpx.AsyncClient,
    other_driver: httpx.AsyncClient,
) -> None:
    await price_station(pay_server, "CP1")
    await online(pay_charger, "CP1")
    paid = await stripe_sim.pay((await post_start(driver)).headers["location"])
    success_url = paid.headers["location"]  # carries the Checkout session's id

    back = await other_driver.get(success_url)

    assert back.status_code == 303
    assert COOKIE in back.cookies
    status = await other_driver.get(back.headers["location"])
    assert status.status_code == 200
    assert "Plug in your cable" in words(status)


async def test_a_connector_held_by_a_paid_driver_shows_as_reserved_to_others(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    driver: httpx.AsyncClient,
    other_driver: httpx.AsyncClient,
) -> None:
    await price_station(pay_server, "CP1")
    cp = await online(pay_charger, "CP1")
    await report(cp, "Available", 2)
    paid = await stripe_sim.pay((await post_start(driver)).headers["location"])
    status_url = (await driver.get(paid.headers["location"])).headers["location"]
    assert (await reservation(pay_server, reservation_of(status_url))).status == "Authorized"

    held = await other_driver.get("/Public/Start", params={"cp": "CP1", "conn": "1"})
    german = await other_driver.get(
        "/Public/Start", params={"cp": "CP1", "conn": "1", "lang": "de"}
    )
    free = await other_driver.get("/Public/Start", params={"cp": "CP1", "conn": "2", "lang": "en"})
    own = await driver.get("/Public/Start", params={"cp": "CP1", "conn": "1"})

    assert 'data-status="reserved"' in held.text
    assert "Reserved" in words(held)
    assert "Pay and start charging" not in words(held)
    assert "Reserviert" in words(german)
    assert 'data-status="available"' in free.text
    assert "Pay and start charging" in words(free)
    # The driver who holds it is shown their session, as before.
    assert 'data-status="reserved"' in own.text
    assert "You have a session on this connector." in words(own)
    assert status_url in html.unescape(own.text)
