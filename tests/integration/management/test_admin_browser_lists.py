"""An operator in a real browser: a filter's field suggests ids as they type; lists page by key."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from builders import NOW
from integration.management.console import Console
from integration.management.pages import VIEWER, RunningManagement
from ocpp_core.db.models import ChargePoint
from servers import RunningServer


async def test_the_station_field_suggests_ids_as_typed_and_filters_by_the_one_chosen(
    server: RunningServer, management: RunningManagement, browser: Browser
) -> None:
    async with server.runtime.db.session() as session:
        session.add_all(ChargePoint(id=f"CP-{n:03d}", created_at=NOW) for n in range(120))
    site = management.url
    context = await browser.new_context()
    page = await context.new_page()
    console = Console().watch(page)
    try:
        await page.goto(f"{site}/Account/Login")
        await page.get_by_label("Name").fill(VIEWER[0])
        await page.get_by_label("Password").fill(VIEWER[1])
        await page.get_by_role("button", name="Log in").click()
        await expect(page).to_have_url(f"{site}/")

        await page.goto(f"{site}/Home/Transactions")
        field = page.get_by_label("Charge point", exact=True)
        suggested = page.locator("#f-cp-ids option")
        await field.focus()
        await expect(suggested).to_have_count(20)  # the first ids, not the fleet
        await field.press_sequentially("CP-11")
        await expect(suggested).to_have_count(10)
        await expect(suggested.first).to_have_attribute("value", "CP-110")
        await field.press_sequentially("7")
        await expect(suggested).to_have_count(1)
        await page.get_by_role("button", name="Show").click()
        await expect(page).to_have_url(
            f"{site}/Home/Transactions?cp=CP-117&conn=&tag=&since=&until="
        )

        await page.goto(f"{site}/Home/ChargePoint")
        await expect(page.locator("tr[data-cp]")).to_have_count(50)
        await page.get_by_role("link", name="Next page").click()
        await expect(page.locator("tr[data-cp]").first).to_have_attribute("data-cp", "CP-050")
        await page.get_by_role("link", name="Previous page").click()
        await expect(page.locator("tr[data-cp]").first).to_have_attribute("data-cp", "CP-000")
        assert console.errors == []
    finally:
        await context.close()
