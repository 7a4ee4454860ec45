"""The driver pages over real HTTP: real server, Stripe simulator, real OCPP chargers."""

from __future__ import annotations

import asyncio
import dataclasses
import html

import httpx
from ocpp.v16 import call
from sqlalchemy import select

from builders import NOW, add_tag, timestamp
from integration.management.pages import RunningManagement, csrf_token
from integration.management.public_harness import (
    FREE,
    OPERATOR,
    SUPPORT_EMAIL,
    SUPPORT_PHONE,
    online,
    post_start,
    price_station,
    report,
    reservation_of,
)
from integration.payments.payflow import calls, checkout, checkout_session_id
from ocpp_core.db.models import PaymentReservation
from ocpp_core.domain import tariffs
from ocpp_core.domain.pricing import Tariff
from ocpp_core.management.driver_cookie import COOKIE
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim, eventually

# Every component: 0.355/kWh up to 20 kWh, 1.00 per session, 0.10/min idle after
# charging with 5 min free and at most 30 billed. Hold: 7.10 + 3.00 + 1.00.
FULL = Tariff(
    price_kwh_millicents=35_500,
    session_fee_cents=100,
    usage_fee_minute_millicents=10_000,
    usage_grace_minutes=5,
    usage_max_minutes=30,
    usage_after_charging=True,
    max_energy_wh=20_000,
)
KNOWN_TAG = "KNOWN-0001"
FLEET_TAG = "FLEET-0001"  # free charging at every station


def text(response: httpx.Response) -> str:
    """The page's words, whitespace folded, entities decoded."""
    return " ".join(html.unescape(response.text).split())


def shape(answer: httpx.Response, prefix: str) -> str:
    """Where the answer sends the driver, up to what differs on every start."""
    location: str = answer.headers.get("location", "")
    return location[: len(prefix)]


async def reservations(server: RunningServer) -> list[PaymentReservation]:
    async with server.runtime.db.session() as session:
        rows = list(await session.scalars(select(PaymentReservation)))
        session.expunge_all()
        return rows


async def test_the_start_page_shows_status_every_price_and_the_hold(
    pay_server: RunningServer, pay_charger: ConnectCharger, driver: httpx.AsyncClient
) -> None:
    await price_station(pay_server, "CP1", FULL, name="Harbour")
    await online(pay_charger, "CP1")
    # Same fees counted from the start; this one never comes online.
    from_start = dataclasses.replace(FULL, usage_after_charging=False)
    await price_station(pay_server, "CP2", from_start)

    page = await driver.get("/Public/Start", params={"cp": "CP1", "conn": "1"})

    assert page.status_code == 200
    words = text(page)
    assert "Harbour" in words
    assert "Connector 1" in words
    assert 'data-status="available"' in page.text
    for shown in (
        "0.355 EUR per kWh",
        "1.00 EUR per session",
        "Idle fee",
        "0.10 EUR per minute, counted after charging ends, until you unplug",
        "The first 5 min are free.",
        "At most 30 min are charged (3.00 EUR).",
        "Up to 20 kWh",
        "your card is authorized for 11.10 EUR",
        "the unused part of the hold is released automatically.",
        OPERATOR,
        SUPPORT_EMAIL,
        SUPPORT_PHONE,
        "Pay and start charging",
    ):
        assert shown in words, shown
    assert f'href="mailto:{SUPPORT_EMAIL}"' in page.text
    assert 'href="tel:+38512345678"' in page.text

    other = text(await driver.get("/Public/Start", params={"cp": "CP2"}))  # conn defaults to 1
    assert "Time fee" in other
    assert "counted from the start of the session" in other
    assert "Offline" in other


async def test_short_links_lead_to_the_start_page(
    pay_server: RunningServer, driver: httpx.AsyncClient
) -> None:
    await price_station(pay_server, "CP+1")
    for path, target in (
        ("/cp/CP%2B1/1", "/Public/Start?cp=CP%2B1&conn=1"),
        ("/cp/CP%2B1", "/Public/Start?cp=CP%2B1&conn=1"),
        ("/cp/CP%2B1/2", "/Public/Start?cp=CP%2B1&conn=2"),
    ):
        response = await driver.get(path)
        assert (response.status_code, response.headers["location"]) == (302, target), path
    page = await driver.get("/cp/CP%2B1/1", follow_redirects=True)
    assert page.status_code == 200
    assert "CP+1" in text(page)


async def test_an_unknown_charger_connector_or_session_is_a_friendly_404(
    pay_server: RunningServer, pay_charger: ConnectCharger, driver: httpx.AsyncClient
) -> None:
    await price_station(pay_server, "CP1")
    await online(pay_charger, "CP1")
    for params in (
        {"cp": "NOPE", "conn": "1"},
        {"cp": "CP1", "conn": "2"},
        {"cp": "CP1", "conn": "abc"},
        {"cp": "CP1", "conn": "0"},
        {},
    ):
        page = await driver.get("/Public/Start", params=params)
        assert page.status_code == 404, params
        assert "Charger not found" in text(page)
        assert SUPPORT_EMAIL in text(page)
    assert (await driver.get("/cp/NOPE/1", follow_redirects=True)).status_code == 404
    for path in ("/Payments/Status", "/Payments/StatusFragment"):
        missing = await driver.get(path, params={"reservationId": "no-such-reservation"})
        assert missing.status_code == 404
        assert "Session not found" in text(missing)


async def test_paying_goes_to_checkout_and_back_to_the_status_page(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    public_site: RunningManagement,
    driver: httpx.AsyncClient,
    other_driver: httpx.AsyncClient,
) -> None:
    await price_station(pay_server, "CP1")
    await online(pay_charger, "CP1")
    # Another driver opens the page at the same time.
    stale_page = await other_driver.get("/Public/Start", params={"cp": "CP1", "conn": "1"})

    started = await post_start(driver)

    assert started.status_code == 303, started.text
    checkout_url = started.headers["location"]
    assert checkout_url.startswith(f"{stripe_sim.url}/checkout/cs_")
    cookie = started.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Max-Age=86400" in cookie
    (row,) = await reservations(pay_server)
    assert (row.origin, row.hold_cents) == ("public", 900)
    assert row.charge_tag_id.startswith("WEB-")
    assert len(row.charge_tag_id) == 20

    paid = await stripe_sim.pay(checkout_url)
    assert paid.status_code == 303
    success = paid.headers["location"]
    assert success.startswith(f"{public_site.url}/Payments/Success?reservationId={row.id}")

    confirmed = await driver.get(success)

    assert confirmed.status_code == 303, confirmed.text
    assert confirmed.headers["location"] == f"/Payments/Status?reservationId={row.id}"
    status = await driver.get(confirmed.headers["location"])
    assert status.status_code == 200
    assert "Plug in your cable" in text(status)
    assert "Stop" in text(status) or "Cancel this session" in text(status)

    # The driver closes the browser and scans again: the session is found.
    again = await driver.get("/cp/CP1/1", follow_redirects=True)
    assert "You have a session on this connector." in text(again)
    assert f"/Payments/Status?reservationId={row.id}" in again.text

    # Another driver finds the connector reserved, with no Start button; one who had the
    # page open before still can't take it.
    seen = await other_driver.get("/Public/Start", params={"cp": "CP1", "conn": "1"})
    form = {"csrf_token": csrf_token(stale_page.text), "cp": "CP1", "conn": "1"}
    busy = await other_driver.post("/Public/Start", data=form)
    assert 'data-status="reserved"' in seen.text
    assert "Pay and start charging" not in text(seen)
    assert busy.status_code == 409
    assert "in use or reserved by another driver" in text(busy)


async def test_a_refused_start_leaves_the_connector_free_for_the_next_driver(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    driver: httpx.AsyncClient,
) -> None:
    """Someone held an unknown card to the charger; it stays open until the charger says."""
    await price_station(pay_server, "CP1")
    cp = await online(pay_charger, "CP1")
    refused = await cp.call(call.StartTransaction(1, "UNKNOWN-CARD", 500, timestamp()))
    assert refused.id_tag_info["status"] == "Invalid"

    page = await driver.get("/Public/Start", params={"cp": "CP1", "conn": "1"})
    assert 'data-status="available"' in page.text
    started = await post_start(driver)

    assert started.status_code == 303  # to Checkout, not "in use"
    assert started.headers["location"].startswith(f"{stripe_sim.url}/checkout/cs_")


async def test_leaving_checkout_changes_nothing_until_the_driver_presses_cancel(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    driver: httpx.AsyncClient,
) -> None:
    await price_station(pay_server, "CP1")
    await online(pay_charger, "CP1")
    checkout_url = (await post_start(driver)).headers["location"]

    back = await stripe_sim.web.get(f"{checkout_url}/cancel")
    assert back.status_code == 303
    page = await driver.get(back.headers["location"])

    # The GET shows what cancelling would do; it cancels nothing.
    assert page.status_code == 200
    assert "You left the payment page without paying." in text(page)
    assert f'href="{checkout_url}"' in page.text  # back to the payment
    (row,) = await reservations(pay_server)
    assert row.status == "PendingPayment"
    assert (await checkout(stripe_sim, checkout_url)).status == "open"
    unsigned = await driver.post("/Payments/Cancel", data={"reservationId": row.id})
    assert unsigned.status_code == 403
    assert (await reservations(pay_server))[0].status == "PendingPayment"

    cancelled = await driver.post(
        "/Payments/Cancel", data={"csrf_token": csrf_token(page.text), "reservationId": row.id}
    )

    assert cancelled.status_code == 200
    assert "You cancelled the payment. Nothing was charged" in text(cancelled)
    assert "/Public/Start?cp=CP1&amp;conn=1" in cancelled.text
    (row,) = await reservations(pay_server)
    assert row.status == "Cancelled"
    assert reservation_of(back.headers["location"]) == row.id
    # Scanning again offers a fresh start, not the cancelled session.
    fresh = await driver.get("/Public/Start", params={"cp": "CP1", "conn": "1"})
    assert "You have a session" not in text(fresh)


async def test_a_link_to_the_cancel_page_never_cancels_a_paid_session(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    driver: httpx.AsyncClient,
) -> None:
    """Another site links to ``/Payments/Cancel``: the browser sends the driver's cookie."""
    await price_station(pay_server, "CP1")
    await online(pay_charger, "CP1")
    checkout_url = (await post_start(driver)).headers["location"]
    paid = await stripe_sim.pay(checkout_url)
    status_url = (await driver.get(paid.headers["location"])).headers["location"]
    reservation_id = reservation_of(status_url)

    followed = await driver.get("/Payments/Cancel", params={"reservationId": reservation_id})

    assert (followed.status_code, followed.headers["location"]) == (303, status_url)
    (row,) = await reservations(pay_server)
    assert (row.status, row.money_state) == ("Authorized", None)
    held = await stripe_sim.intent_of(checkout_session_id(checkout_url))
    assert (held.status, held.amount_capturable) == ("requires_capture", 900)


async def test_a_free_station_starts_without_payment(
    pay_server: RunningServer, pay_charger: ConnectCharger, driver: httpx.AsyncClient
) -> None:
    await price_station(pay_server, "FREE1", FREE, name="Library")
    await online(pay_charger, "FREE1")
    page = await driver.get("/Public/Start", params={"cp": "FREE1"})
    assert "Charging here is free." in text(page)
    assert "authorized" not in text(page)

    started = await post_start(driver, "FREE1")

    assert started.status_code == 200, started.text
    assert "Plug in your cable at Library, connector 1: charging will start shortly." in text(
        started
    )
    (row,) = await reservations(pay_server)
    assert (row.free, row.hold_cents) == (True, 0)
    status = await driver.get(f"/Payments/Status?reservationId={row.id}")
    assert status.status_code == 200
    assert "Plug in your cable" in text(status)
    assert "Cost so far" not in text(status)


async def test_a_tag_typed_on_the_public_page_grants_nothing_and_reveals_nothing(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    public_site: RunningManagement,
) -> None:
    """An RFID UID proves nothing: a privileged one typed (or forged into the form) is
    answered exactly like an unknown one, and the session is paid like any other."""
    await price_station(pay_server, "CP1")
    cp = await online(pay_charger, "CP1")
    for connector in (2, 3, 4):
        await report(cp, "Available", connector)
    await add_tag(pay_server.runtime.db, KNOWN_TAG)
    await add_tag(pay_server.runtime.db, FLEET_TAG)
    async with pay_server.runtime.db.session() as session:
        await tariffs.grant_free_charging(
            session, tag_id=FLEET_TAG, charge_point_id=None, note="fleet", now=NOW
        )
    typed = (None, "NOBODY-0001", KNOWN_TAG, FLEET_TAG)

    answers = []
    for connector, tag in enumerate(typed, start=1):
        async with httpx.AsyncClient(base_url=public_site.url) as phone:
            page = await phone.get("/Public/Start", params={"cp": "CP1", "conn": connector})
            assert 'name="tag"' not in page.text  # nothing to type a tag into
            extra = {} if tag is None else {"tag": tag}
            answers.append(await post_start(phone, conn=connector, extra=extra))

    to_checkout = f"{stripe_sim.url}/checkout/cs_"
    seen = {(a.status_code, shape(a, to_checkout), a.text, *sorted(a.headers)) for a in answers}
    assert len(seen) == 1, seen
    assert (answers[0].status_code, shape(answers[0], to_checkout)) == (303, to_checkout)
    rows = await reservations(pay_server)
    assert [(r.free, r.hold_cents, r.status) for r in rows] == [(False, 900, "PendingPayment")] * 4
    assert all(r.charge_tag_id.startswith("WEB-") for r in rows)
    assert all(r.ocpp_id_tag not in (KNOWN_TAG, FLEET_TAG) for r in rows)
    assert calls(cp, "RemoteStartTransaction") == []


async def test_an_offline_charger_is_said_so(
    pay_server: RunningServer, driver: httpx.AsyncClient
) -> None:
    await price_station(pay_server, "CP1")

    page = await post_start(driver)

    assert page.status_code == 503
    assert "This charger is offline at the moment" in text(page)
    assert await reservations(pay_server) == []


async def test_starts_are_rate_limited_per_address(
    pay_server: RunningServer, driver: httpx.AsyncClient
) -> None:
    await price_station(pay_server, "CP1")
    page = await driver.get("/Public/Start", params={"cp": "CP1"})
    form = {"csrf_token": csrf_token(page.text), "cp": "NOPE", "conn": "1"}  # answered quickly
    answers = await asyncio.gather(*(driver.post("/Public/Start", data=form) for _ in range(10)))
    assert [a.status_code for a in answers] == [404] * 10

    limited = await driver.post("/Public/Start", data=form)

    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert "Too many attempts" in text(limited)


async def test_a_start_without_the_form_token_is_refused(
    pay_server: RunningServer, pay_charger: ConnectCharger, driver: httpx.AsyncClient
) -> None:
    await price_station(pay_server, "CP1")
    await online(pay_charger, "CP1")
    await driver.get("/Public/Start", params={"cp": "CP1"})  # a session, but no token sent

    missing = await driver.post("/Public/Start", data={"cp": "CP1", "conn": "1"})
    forged = await driver.post(
        "/Public/Start", data={"cp": "CP1", "conn": "1", "csrf_token": "forged"}
    )

    assert (missing.status_code, forged.status_code) == (403, 403)
    assert await reservations(pay_server) == []


async def test_a_failed_confirmation_says_so(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    driver: httpx.AsyncClient,
) -> None:
    await price_station(pay_server, "CP1")
    await online(pay_charger, "CP1")
    assert (await post_start(driver)).status_code == 303
    (row,) = await reservations(pay_server)

    page = await driver.get(
        "/Payments/Success", params={"reservationId": row.id, "session_id": "cs_not_this_one"}
    )

    assert page.status_code == 502
    assert "We could not confirm your payment (SessionMismatch)" in text(page)
    assert f"/Payments/Status?reservationId={row.id}" in page.text


async def test_stop_before_charging_cancels_the_session(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    driver: httpx.AsyncClient,
) -> None:
    await price_station(pay_server, "CP1")
    await online(pay_charger, "CP1")
    paid = await stripe_sim.pay((await post_start(driver)).headers["location"])
    status_url = (await driver.get(paid.headers["location"])).headers["location"]
    page = await driver.get(status_url)

    stopped = await driver.post(
        "/Payments/Stop",
        data={"csrf_token": csrf_token(page.text), "reservationId": reservation_of(status_url)},
    )

    assert stopped.status_code == 303
    assert stopped.headers["location"].endswith("&stop=requested")
    after = await driver.get(stopped.headers["location"])
    assert "The session was cancelled. Nothing was charged" in text(after)
    assert "Stop requested." in text(after)

    reservation_id = reservation_of(status_url)

    async def released() -> bool:  # the page polls until the hold is back on the card
        fragment = await driver.get(
            "/Payments/StatusFragment", params={"reservationId": reservation_id}
        )
        return 'data-final="true"' in fragment.text

    await eventually(released)


async def test_without_stripe_a_paid_station_says_card_payments_are_unavailable(
    server: RunningServer, charger: ConnectCharger, management: RunningManagement
) -> None:
    await price_station(server, "CP1")
    await online(charger, "CP1")
    async with httpx.AsyncClient(base_url=management.url) as phone:
        page = await post_start(phone)

    assert page.status_code == 503
    assert "Card payments are not available at the moment. Nothing was charged." in text(page)
