"""An operator in a real browser: a new price, a remote start and stop, the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

from ocpp.v16 import call
from playwright.async_api import Browser, Page, expect

from builders import NOW, add_charge_point, add_tag, timestamp
from integration.management.console import Console
from integration.management.pages import ADMIN, RunningManagement
from integration.management.test_public_browser import PNG_SIGNATURE, next_call
from ocpp_core.db.models import ChargePoint
from servers import ConnectCharger, RunningServer

METER_START, METER_STOP = 2_000, 9_500


async def log_in(page: Page, url: str) -> None:
    await page.goto(f"{url}/Account/Login")
    await page.get_by_label("Name").fill(ADMIN[0])
    await page.get_by_label("Password").fill(ADMIN[1])
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{url}/")


async def test_price_remote_start_stop_and_csv_export(
    server: RunningServer,
    charger: ConnectCharger,
    management: RunningManagement,
    browser: Browser,
    tmp_path: Path,
) -> None:
    await add_charge_point(server.runtime.db, "CP1", name="Depot")
    await add_tag(server.runtime.db, "TAG7")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    site = management.url
    context = await browser.new_context(accept_downloads=True)
    page = await context.new_page()
    console = Console().watch(page)
    try:
        await log_in(page, site)

        # A price per kWh, through the charge point's form.
        await page.goto(f"{site}/Home/ChargePoint/CP1")
        await page.get_by_label("Price per kWh").fill("0.45")
        await page.get_by_label("Max kWh per session").fill("30")
        await page.get_by_role("button", name="Save", exact=True).click()
        await expect(page).to_have_url(f"{site}/Home/ChargePoint/CP1")
        await expect(page.get_by_role("status")).to_have_text("Charge point CP1 saved.")
        await page.get_by_role("link", name="← Charge points").click()
        row = page.locator('tr[data-cp="CP1"]')
        await expect(row).to_contain_text("Depot")
        await expect(row).to_contain_text("0.45 EUR/kWh, max 30 kWh")
        await page.screenshot(path=tmp_path / "chargepoints.png", full_page=True)

        # A remote start with a tag, then a remote stop of the charger's transaction.
        await page.goto(f"{site}/Home/Connector/CP1/1")
        await page.get_by_label("Tag to start with").fill("TAG7")
        await page.get_by_role("button", name="Start", exact=True).click()
        await expect(page.get_by_role("status")).to_contain_text("Start with tag TAG7: Accepted.")
        start = await next_call(cp, "RemoteStartTransaction")
        assert start["id_tag"] == "TAG7"
        assert start.get("connector_id") == 1
        started = await cp.call(call.StartTransaction(1, "TAG7", METER_START, timestamp()))
        assert started.id_tag_info["status"] == "Accepted"
        transaction_id = started.transaction_id
        await cp.call(call.StatusNotification(1, "NoError", "Charging", timestamp=timestamp()))

        await page.reload()
        await expect(page.locator("dd").filter(has_text=f"#{transaction_id}")).to_contain_text(
            "TAG7"
        )
        await page.get_by_role("button", name="Stop", exact=True).click()
        await expect(page.get_by_role("status")).to_contain_text("Stop: Accepted.")
        stop = await next_call(cp, "RemoteStopTransaction")
        assert stop == {"transaction_id": transaction_id}
        await cp.call(
            call.StopTransaction(
                meter_stop=METER_STOP,
                timestamp=timestamp(NOW + timedelta(hours=1)),
                transaction_id=transaction_id,
                reason="Remote",
                id_tag="TAG7",
            )
        )
        await page.screenshot(path=tmp_path / "connector.png", full_page=True)

        # The transactions page and its CSV export, downloaded as a browser does.
        await page.goto(f"{site}/Home/Transactions?cp=CP1")
        line = page.locator(f'[data-transaction="{transaction_id}"]')
        await expect(line).to_contain_text("7.500")
        async with page.expect_download() as download_info:
            await page.get_by_role("link", name="Export CSV").click()
        download = await download_info.value
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
    finally:
        await context.close()

    assert saved.suffix == ".csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_bytes().decode("utf-8-sig")), delimiter=";"))
    (exported,) = [r for r in rows if r["Transaction"] == str(transaction_id)]
    assert exported["Charge point"] == "CP1"
    assert exported["Energy (kWh)"] == "7.5"
    assert exported["Start tag"] == "TAG7"
    for name in ("chargepoints.png", "connector.png"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert len(data) > 1000
    assert console.errors == []
    async with management.db.session() as session:
        stored = await session.get(ChargePoint, "CP1")
        assert stored is not None
        assert (stored.price_kwh_millicents, stored.max_session_wh) == (45_000, 30_000)


async def test_a_tag_is_saved_and_deleted_and_a_list_filtered_through_the_forms(
    server: RunningServer, management: RunningManagement, browser: Browser
) -> None:
    for station in ("CP1", "CP2"):
        await add_charge_point(server.runtime.db, station)
    await add_tag(server.runtime.db, "TAG8")
    site = management.url
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await log_in(page, site)

        await page.goto(f"{site}/Home/ChargeTag/TAG8")
        await page.get_by_label("Name", exact=True).fill("Grace")
        await page.get_by_role("button", name="Save", exact=True).click()
        await expect(page.get_by_role("status")).to_have_text("Tag TAG8 saved.")
        await expect(page.get_by_label("Name", exact=True)).to_have_value("Grace")

        await page.goto(f"{site}/Home/Transactions")
        await page.get_by_label("Charge point", exact=True).fill("CP2")
        await page.get_by_role("button", name="Show").click()
        await expect(page).to_have_url(f"{site}/Home/Transactions?cp=CP2&conn=&tag=&since=&until=")
        await expect(page.get_by_label("Charge point", exact=True)).to_have_value("CP2")

        await page.goto(f"{site}/Home/ChargeTag/TAG8?confirm=delete")
        await page.get_by_role("button", name="Keep it").click()
        await expect(page).to_have_url(f"{site}/Home/ChargeTag/TAG8")
        await page.get_by_role("link", name="Delete this tag…").click()
        await page.get_by_role("button", name="Delete TAG8").click()
        await expect(page).to_have_url(f"{site}/Home/ChargeTag")
        await expect(page.get_by_role("status")).to_have_text("Tag TAG8 deleted.")
        await expect(page.locator('tr[data-tag="TAG8"]')).to_have_count(0)
    finally:
        await context.close()
