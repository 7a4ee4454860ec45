"""An operator in a real browser: create a charge point through the form with the keyboard."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Page, expect

from integration.management.console import Console
from integration.management.pages import ADMIN, RunningManagement
from ocpp_core.db.models import ChargePoint

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def focused(page: Page) -> str:
    name: str = await page.evaluate("document.activeElement.name || document.activeElement.id")
    return name


async def type_into(page: Page, field: str, value: str) -> None:
    assert await focused(page) == field
    await page.keyboard.type(value)


async def test_create_a_charge_point_with_the_keyboard(
    browser: Browser, management: RunningManagement, tmp_path: Path
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    console = Console().watch(page)
    try:
        await page.goto(f"{management.url}/Account/Login")
        await page.get_by_label("Name").fill(ADMIN[0])
        await page.get_by_label("Password").fill(ADMIN[1])
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(f"{management.url}/")

        await page.get_by_role("link", name="Charge points").focus()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="Charge points", level=1)).to_be_visible()
        await page.get_by_role("button", name="Add a charge point").focus()
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(f"{management.url}/Home/ChargePoint/@")

        await page.get_by_label("Id (as the charger sends it)").focus()
        await type_into(page, "id", "CP-KB")
        await page.keyboard.press("Tab")
        await type_into(page, "name", "Keyboard yard")
        await page.keyboard.press("Tab")
        await type_into(page, "comment", "made without a mouse")
        await page.keyboard.press("Tab")
        await type_into(page, "display_code", "KB-01")
        await page.keyboard.press("Tab")
        await type_into(page, "location", "Back yard")
        await page.keyboard.press("Tab")  # the password, left empty
        await page.keyboard.press("Tab")
        assert await focused(page) == "no_password"
        await page.keyboard.press("Space")  # chosen: any charger may connect as CP-KB
        for _ in range(2):  # the certificate, the free checkbox
            await page.keyboard.press("Tab")
        await page.keyboard.press("Tab")
        await type_into(page, "per_kwh", "0.39")
        await page.keyboard.press("Enter")  # submits: no max kWh yet

        error = page.locator("#f-max_kwh-error")
        await expect(error).to_contain_text("A per-kWh price needs “Max kWh per session”")
        await expect(page.get_by_label("Max kWh per session")).to_have_attribute(
            "aria-invalid", "true"
        )
        await page.get_by_label("Max kWh per session").focus()
        await type_into(page, "max_kwh", "40")
        await page.keyboard.press("Enter")

        await expect(page).to_have_url(f"{management.url}/Home/ChargePoint/CP-KB")
        await expect(page.get_by_role("status")).to_have_text("Charge point CP-KB added.")
        await page.get_by_role("link", name="← Charge points").focus()
        await page.keyboard.press("Enter")
        row = page.locator('tr[data-cp="CP-KB"]')
        await expect(row.get_by_role("link", name="CP-KB")).to_be_visible()
        await expect(row).to_contain_text("Keyboard yard")
        await expect(row).to_contain_text("0.39 EUR/kWh, max 40 kWh")
        await expect(row.locator("[data-no-password]")).to_have_text("No password")
        await page.screenshot(path=tmp_path / "chargepoints.png", full_page=True)
    finally:
        await context.close()

    data = (tmp_path / "chargepoints.png").read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 1000
    # The refused form is answered 400, which Chromium reports; nothing else may fail.
    assert [e for e in console.errors if "status of 400" not in e] == []
    assert len(console.errors) == 1
    async with management.db.session() as session:
        stored = await session.get(ChargePoint, "CP-KB")
        assert stored is not None
        assert (stored.price_kwh_millicents, stored.max_session_wh) == (39_000, 40_000)
