"""More driver journeys in Chromium at phone size: cancelling on Checkout, a free station."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from integration.management.console import Console
from integration.management.pages import RunningManagement
from integration.management.public_harness import FREE, online, price_station, report
from integration.management.test_public_browser import PHONE, PNG_SIGNATURE, SLOW, next_call
from ocpp_core.db.models import PaymentReservation
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim, eventually


@dataclass
class Phone:
    context: BrowserContext
    page: Page
    console: Console


@pytest.fixture
async def phone(browser: Browser, public_site: RunningManagement) -> AsyncIterator[Phone]:
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = await context.new_page()
    phone = Phone(context, page, Console(public_site.url).watch(page))
    try:
        yield phone
    finally:
        await context.close()


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 1000


def page_of(checkout: re.Match[str]) -> str:
    """The hosted page's address, as the match found it."""
    return checkout.group(0)


async def reservation_rows(server: RunningServer) -> list[PaymentReservation]:
    async with server.runtime.db.session() as session:
        rows = await session.scalars(
            select(PaymentReservation).order_by(PaymentReservation.created_at)
        )
        return list(rows)


async def test_a_driver_cancels_on_checkout_and_nothing_is_held(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    public_site: RunningManagement,
    phone: Phone,
    tmp_path: Path,
) -> None:
    await price_station(pay_server, "CP1", name="Harbour")
    await online(pay_charger, "CP1")
    page, site = phone.page, public_site.url
    checkout = re.compile(rf"^{re.escape(stripe_sim.url)}/checkout/(cs_[^/?#]+)")

    await page.goto(f"{site}/cp/CP1/1")
    await page.get_by_role("button", name="Pay and start charging").click()
    await expect(page).to_have_url(checkout)
    first = checkout.match(page.url)
    assert first is not None
    await page.get_by_role("button", name="Cancel").click()

    # Back on our page, which only offers the choice; its button cancels: nothing charged.
    await expect(page).to_have_url(
        re.compile(rf"^{re.escape(site)}/Payments/Cancel\?reservationId=[0-9a-f-]{{36}}(&|$)")
    )
    await expect(page.get_by_role("heading", level=1)).to_have_text("Payment not completed")
    await expect(page.get_by_role("button", name="Continue to payment")).to_have_attribute(
        "href", page_of(first)
    )
    await page.get_by_role("button", name="Cancel this unpaid attempt").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Payment cancelled")
    await expect(page.get_by_role("status")).to_contain_text(
        "You cancelled the payment. Nothing was charged"
    )
    shot = tmp_path / "cancelled.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert_png(shot)

    # Stripe: the session is closed and no money was ever authorized.
    (row,) = await reservation_rows(pay_server)
    assert row.status == "Cancelled"
    assert row.checkout_session_id == first.group(1)

    async def expired() -> bool:
        session = await stripe_sim.client.v1.checkout.sessions.retrieve_async(first.group(1))
        return session.status == "expired"

    await eventually(expired, timeout=SLOW / 1000)
    session = await stripe_sim.client.v1.checkout.sessions.retrieve_async(first.group(1))
    assert session.payment_status == "unpaid"
    if isinstance(session.payment_intent, str):
        intent = await stripe_sim.client.v1.payment_intents.retrieve_async(session.payment_intent)
        assert intent.status != "requires_capture"
        assert intent.amount_received == 0

    # The connector is free again: back to the charger, a fresh Checkout.
    await page.get_by_role("link", name="Back to the charger").click()
    await expect(page).to_have_url(f"{site}/Public/Start?cp=CP1&conn=1")
    await expect(page.locator("#earlier")).to_have_count(0)
    await expect(page.locator("#problem")).to_have_count(0)
    await page.get_by_role("button", name="Pay and start charging").click()
    await expect(page).to_have_url(checkout)
    second = checkout.match(page.url)
    assert second is not None
    assert second.group(1) != first.group(1)
    fresh = await stripe_sim.client.v1.checkout.sessions.retrieve_async(second.group(1))
    assert fresh.status == "open"
    statuses = {r.id: r.status for r in await reservation_rows(pay_server)}
    assert statuses.pop(row.id) == "Cancelled"
    (new_status,) = statuses.values()
    assert new_status != "Cancelled"

    assert phone.console.errors == []


async def test_a_free_station_starts_after_plugging_in(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    public_site: RunningManagement,
    phone: Phone,
    tmp_path: Path,
) -> None:
    await price_station(pay_server, "FREE1", FREE, name="Library")
    cp = await online(pay_charger, "FREE1")
    page, site = phone.page, public_site.url

    await page.goto(f"{site}/cp/FREE1/1")
    await expect(page).to_have_url(f"{site}/Public/Start?cp=FREE1&conn=1")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Library")
    await expect(page.locator(".price-free")).to_have_text("Charging here is free.")
    await expect(page.get_by_role("button", name="Pay and start charging")).to_have_count(0)
    await page.get_by_role("button", name="Start charging").click()

    # No payment page: straight to "plug in".
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ready to charge")
    await expect(page.get_by_role("status")).to_have_text(
        "Plug in your cable at Library, connector 1: charging will start shortly."
    )
    shot = tmp_path / "free-started.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert_png(shot)
    (row,) = await reservation_rows(pay_server)
    assert (row.free, row.hold_cents, row.checkout_session_id) == (True, 0, None)
    # It is only asked whether it takes reservations (it does not): nothing is started
    # before the car is plugged in.
    asked = await next_call(cp, "GetConfiguration")
    assert asked == {"key": ["SupportedFeatureProfiles"]}
    assert [action for action, _ in cp.requests] == ["GetConfiguration"]

    # The car is plugged in: the server starts the charger.
    await report(cp, "Preparing")
    request = await next_call(cp, "RemoteStartTransaction")
    assert request["connector_id"] == 1
    assert request["id_tag"]

    await page.get_by_role("button", name="Follow your session").click()
    await expect(page).to_have_url(f"{site}/Payments/Status?reservationId={row.id}")
    await expect(page.locator("#stage")).to_be_visible(timeout=SLOW)
    assert phone.console.errors == []


async def test_the_shared_styles_reach_the_driver_pages(
    phone: Phone, public_site: RunningManagement
) -> None:
    page = phone.page
    await page.goto(f"{public_site.url}/cp/NOPE/1")  # the public layout, with no station
    skip = page.get_by_role("link", name="Skip to content")
    await expect(skip).not_to_be_in_viewport()

    await page.keyboard.press("Tab")

    await expect(skip).to_be_in_viewport()
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineWidth")
    brand = await page.evaluate(
        "[getComputedStyle(document.querySelector('.brand')).fontWeight,"
        " getComputedStyle(document.querySelector('.brand')).marginBottom]"
    )
    loaded = await page.evaluate("[...document.styleSheets].map(s => s.cssRules.length > 0)")
    assert outline == "3px"
    assert brand == ["700", "0px"]
    assert loaded == [True, True, True]  # Pico, the shared styles and the driver pages'
