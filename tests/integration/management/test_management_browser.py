"""The pages in a real browser: log in with the form or the keyboard, watch tiles go live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from ocpp.v16 import call
from playwright.async_api import Browser, BrowserContext, Page, Route, ViewportSize, expect

from builders import add_charge_point, timestamp
from integration.management.console import Console
from integration.management.pages import ADMIN, VIEWER, RunningManagement
from servers import ConnectCharger, RunningServer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context()
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
async def page(context: BrowserContext, console: Console) -> AsyncIterator[Page]:
    """A tab that fails the test on any console error it did not expect."""
    tab = await context.new_page()
    console.watch(tab)
    yield tab
    assert console.unexpected() == []


async def log_in_with_the_form(
    page: Page, management: RunningManagement, name: str, password: str
) -> None:
    await page.goto(f"{management.url}/")
    await expect(page).to_have_url(f"{management.url}/Account/Login")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{management.url}/")


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 1000


async def test_a_tile_follows_the_charger_without_a_reload(
    server: RunningServer,
    charger: ConnectCharger,
    management: RunningManagement,
    page: Page,
    tmp_path: Path,
) -> None:
    await add_charge_point(server.runtime.db, "CP1", name="Yard")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    await log_in_with_the_form(page, management, *VIEWER)
    tile = page.locator('[data-tile="CP1/1"]')
    await expect(tile).to_have_attribute("data-status", "Available")
    await page.evaluate("window.stillTheSamePage = true")

    await cp.call(call.StatusNotification(1, "NoError", "Charging", timestamp=timestamp()))

    await expect(tile).to_have_attribute("data-status", "Charging", timeout=5000)
    await expect(tile.get_by_role("heading", name="Yard")).to_be_visible()
    assert await page.evaluate("window.stillTheSamePage") is True
    await page.screenshot(path=tmp_path / "dashboard.png", full_page=True)
    assert_png(tmp_path / "dashboard.png")


async def test_the_live_refresh_swaps_only_the_changed_tile_and_the_totals(
    server: RunningServer, charger: ConnectCharger, management: RunningManagement, page: Page
) -> None:
    await add_charge_point(server.runtime.db, "CP1", name="Yard")
    cp = await charger("CP1")
    for number in (1, 2):
        await cp.call(
            call.StatusNotification(number, "NoError", "Available", timestamp=timestamp())
        )
    await log_in_with_the_form(page, management, *VIEWER)
    unchanged = page.locator('[data-tile="CP1/1"]')
    changing = page.locator('[data-tile="CP1/2"]')
    await expect(changing).to_have_attribute("data-status", "Available")
    await unchanged.evaluate("tile => { tile.dataset.marked = 'kept' }")

    await cp.call(call.StatusNotification(2, "GroundFailure", "Faulted", timestamp=timestamp()))

    await expect(changing).to_have_attribute("data-status", "Faulted", timeout=5000)
    await expect(page.locator('[data-total="faulted"]')).to_have_text("1")
    await expect(unchanged).to_have_attribute("data-marked", "kept")  # the same element
    await expect(page.locator("#tiles-poll")).to_have_count(1)


async def test_keyboard_only_login(management: RunningManagement, page: Page) -> None:
    await page.goto(f"{management.url}/Account/Login")

    await page.keyboard.press("Tab")
    assert await _focused(page) == "a:Skip to content"
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")  # past the brand link to the first field
    assert await _focused(page) == "input:name"
    await page.keyboard.type(ADMIN[0])
    await page.keyboard.press("Tab")
    assert await _focused(page) == "input:password"
    await page.keyboard.type(ADMIN[1])
    await page.keyboard.press("Enter")

    await expect(page).to_have_url(f"{management.url}/")
    await expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()


async def test_focus_is_visible_and_the_skip_link_reaches_the_content(
    management: RunningManagement, page: Page
) -> None:
    await page.goto(f"{management.url}/Account/Login")

    await page.keyboard.press("Tab")
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_in_viewport()
    await page.keyboard.press("Enter")

    assert outline != "none"
    assert await page.evaluate("document.activeElement.id") == "main"


async def test_the_dashboard_fits_a_phone(
    browser: Browser,
    server: RunningServer,
    charger: ConnectCharger,
    management: RunningManagement,
    tmp_path: Path,
) -> None:
    await add_charge_point(server.runtime.db, "CP-WITH-A-RATHER-LONG-IDENTIFIER", name=None)
    await charger("CP-WITH-A-RATHER-LONG-IDENTIFIER")
    phone = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    try:
        page = await phone.new_page()
        await log_in_with_the_form(page, management, *VIEWER)
        await expect(page.locator("[data-tile]")).to_have_count(1)

        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        await page.screenshot(path=tmp_path / "dashboard-phone.png", full_page=True)
    finally:
        await phone.close()

    assert overflow <= 0
    assert_png(tmp_path / "dashboard-phone.png")


async def test_an_ended_session_takes_the_page_to_the_login(
    management: RunningManagement, context: BrowserContext, page: Page, console: Console
) -> None:
    await log_in_with_the_form(page, management, *VIEWER)
    console.expected.append("status of 401")  # the poll that finds the session gone

    await context.clear_cookies()  # as when the session expires

    await expect(page).to_have_url(f"{management.url}/Account/Login", timeout=5000)


async def test_logging_out_from_the_menu(management: RunningManagement, page: Page) -> None:
    """The dashboard's live refresh stops as the logout leaves: a poll sent while the
    logout's answer is on its way would be refused (401), an error in the console."""
    await log_in_with_the_form(page, management, *ADMIN)
    await page.route("**/Account/Logout", _answered_after_a_while)

    await page.get_by_role("button", name="Log out ada").click()

    await expect(page).to_have_url(f"{management.url}/Account/Login")
    await page.goto(f"{management.url}/")
    await expect(page).to_have_url(f"{management.url}/Account/Login")


async def test_a_form_sent_while_a_poll_is_on_its_way_goes_after_its_answer(
    management: RunningManagement, page: Page
) -> None:
    """The logout is clicked while the live refresh's poll waits for its answer. The poll
    is let finish: cancelled, htmx logs its abort as an error in the console."""
    await log_in_with_the_form(page, management, *ADMIN)
    held: asyncio.Future[Route] = asyncio.get_running_loop().create_future()
    polls_failed: list[str] = []
    page.on(
        "requestfailed",
        lambda request: polls_failed.append(request.url) if "/Home/Tiles" in request.url else None,
    )

    async def hold_the_first(route: Route) -> None:
        if held.done():
            await route.continue_()
        else:
            held.set_result(route)

    await page.route(f"{management.url}/Home/Tiles*", hold_the_first)
    poll = await held

    await page.get_by_role("button", name="Log out ada").click()
    await poll.continue_()

    await expect(page).to_have_url(f"{management.url}/Account/Login")
    await page.goto(f"{management.url}/")
    await expect(page).to_have_url(f"{management.url}/Account/Login")
    assert polls_failed == []


async def test_a_poll_that_never_answers_holds_a_form_back_for_a_while_only(
    management: RunningManagement, page: Page
) -> None:
    await log_in_with_the_form(page, management, *ADMIN)
    stuck: asyncio.Future[Route] = asyncio.get_running_loop().create_future()

    async def hold(route: Route) -> None:
        if not stuck.done():
            stuck.set_result(route)

    await page.route(f"{management.url}/Home/Tiles*", hold)
    await stuck

    await page.get_by_role("button", name="Log out ada").click()

    # The form's 2 s of waiting, then the logout: a bound for a loaded machine, not a speed.
    await expect(page).to_have_url(f"{management.url}/Account/Login", timeout=15_000)


async def _answered_after_a_while(route: Route) -> None:
    """The server ends the session at once; its answer reaches the tab after three polls."""
    answer = await route.fetch(max_redirects=0)
    await asyncio.sleep(1.5)
    await route.fulfill(response=answer)


async def _focused(page: Page) -> str:
    described: str = await page.evaluate(
        "(() => { const e = document.activeElement;"
        " return e.tagName.toLowerCase() + ':' + (e.id || e.textContent.trim()); })()"
    )
    return described
