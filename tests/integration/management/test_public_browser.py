"""A driver's paid journey in Chromium at phone size: QR link, Checkout, charging, receipt."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from ocpp.v16 import call
from playwright.async_api import Browser, ViewportSize, expect

from chargers import TestCharger
from integration.management.console import Console
from integration.management.pages import RunningManagement
from integration.management.public_harness import online, price_station, report, reservation_of
from ocpp_core.clock import utc_now
from ocpp_core.db.models import PaymentReservation
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim

PHONE: ViewportSize = {"width": 390, "height": 844}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# TARIFF: 0.40 EUR/kWh up to 20 kWh + 1.00 EUR a session: a hold of 9.00 EUR.
# 1 000 Wh -> 13 500 Wh: 12.5 kWh x 0.40 + 1.00 = 6.00 EUR captured, 3.00 released.
METER_START, METER_STOP = 1_000, 13_500
SLOW = 15_000  # ms: a page refresh, a webhook and a capture may all be in between


def stamp(offset: timedelta = timedelta()) -> str:
    return (utc_now() + offset).isoformat().replace("+00:00", "Z")


async def next_call(cp: TestCharger, action: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            received, request = await cp.received.get()
            if received == action:
                return request


def meter_values(energy_wh: int, power_w: int, at: timedelta) -> list[dict[str, Any]]:
    sampled = [
        {"value": str(energy_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"},
    ]
    return [{"timestamp": stamp(at), "sampledValue": sampled}]


async def test_a_driver_pays_charges_stops_and_gets_the_receipt(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    public_site: RunningManagement,
    browser: Browser,
    tmp_path: Path,
) -> None:
    await price_station(pay_server, "CP1", name="Harbour")
    cp = await online(pay_charger, "CP1")
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = await context.new_page()
    site = public_site.url
    console = Console(site).watch(page)

    # The QR code's short link, the prices, the hold.
    await page.goto(f"{site}/cp/CP1/1")
    await expect(page).to_have_url(f"{site}/Public/Start?cp=CP1&conn=1")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Harbour")
    await expect(page.locator("[data-price=per-kwh]")).to_have_text("0.40 EUR per kWh")
    await expect(page.locator("[data-price=hold]")).to_contain_text("9.00 EUR")
    await page.screenshot(path=str(tmp_path / "start.png"), full_page=True)
    await page.get_by_role("button", name="Pay and start charging").click()

    # Stripe's hosted page (the simulator's).
    await expect(page).to_have_url(re.compile(rf"^{re.escape(stripe_sim.url)}/checkout/cs_"))
    await page.locator("#card_number").fill("4242 4242 4242 4242")
    await page.get_by_role("button", name="Pay 9.00 EUR").click()

    # Back at the status page: plug in.
    await expect(page).to_have_url(
        re.compile(rf"^{re.escape(site)}/Payments/Status\?reservationId=[0-9a-f-]{{36}}$")
    )
    reservation_id = reservation_of(page.url)
    stage = page.locator("#stage")
    await expect(stage).to_have_text("Plug in your cable", timeout=SLOW)

    # The car is plugged in; the server starts the charger; it charges.
    await report(cp, "Preparing")
    id_tag = str((await next_call(cp, "RemoteStartTransaction"))["id_tag"])
    started = await cp.call(call.StartTransaction(1, id_tag, METER_START, stamp()))
    assert started.id_tag_info["status"] == "Accepted"
    transaction_id = started.transaction_id
    await report(cp, "Charging")
    await cp.call(
        call.MeterValues(1, meter_values(5_000, 7_400, timedelta(minutes=10)), transaction_id)
    )
    await expect(stage).to_have_text("Charging", timeout=SLOW)
    await expect(page.locator("[data-value=power]")).to_have_text("7.4 kW", timeout=SLOW)
    await expect(page.locator("[data-value=energy]")).to_have_text("4.00 kWh", timeout=SLOW)
    await expect(page.locator("[data-value=cost]")).to_have_text("2.60 EUR", timeout=SLOW)
    await page.screenshot(path=str(tmp_path / "charging.png"), full_page=True)

    # The driver stops; the charger ends the transaction.
    await page.get_by_role("button", name="Stop charging").click()
    assert (await next_call(cp, "RemoteStopTransaction"))["transaction_id"] == transaction_id
    await cp.call(
        call.StopTransaction(
            meter_stop=METER_STOP,
            timestamp=stamp(timedelta(minutes=40)),
            transaction_id=transaction_id,
            reason="Remote",
            id_tag=id_tag,
        )
    )

    # The receipt, with exactly what Stripe captured.
    receipt = page.locator("#receipt")
    await expect(receipt.locator("[data-receipt=captured]")).to_have_text("6.00 EUR", timeout=SLOW)
    await expect(page.locator("#session")).to_have_attribute("data-final", "true", timeout=SLOW)
    await expect(receipt.locator("[data-receipt=released]")).to_have_text("3.00 EUR")
    await expect(receipt.locator("[data-receipt=energy]")).to_have_text("12.50 kWh")
    await expect(receipt.locator("[data-receipt=energy-cost]")).to_have_text("5.00 EUR")
    await expect(receipt.locator("[data-receipt=session-fee]")).to_have_text("1.00 EUR")
    await expect(receipt.locator("[data-receipt=hold]")).to_have_text("9.00 EUR")
    await expect(receipt.locator("[data-receipt=duration]")).to_be_visible()
    await expect(receipt).to_contain_text(reservation_id)
    async with pay_server.runtime.db.session() as db:
        row = await db.get(PaymentReservation, reservation_id)
        assert row is not None
        assert row.checkout_session_id is not None
        checkout_session_id = row.checkout_session_id
    intent = await stripe_sim.intent_of(checkout_session_id)
    assert (intent.status, intent.amount_received) == ("succeeded", 600)

    shot = tmp_path / "receipt.png"
    await receipt.screenshot(path=str(shot))
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 1000

    # Printed, the receipt stands alone: no buttons, no header.
    await page.emulate_media(media="print")
    await expect(receipt.get_by_role("button")).to_be_hidden()
    await expect(page.locator("body > header")).to_be_hidden()
    await page.emulate_media(media="screen")

    await context.close()
    assert console.errors == []
