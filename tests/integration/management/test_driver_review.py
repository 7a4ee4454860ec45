"""The driver's page while the operator checks an implausible meter: no amount, then the
decided one. Real server, Stripe simulator, a real OCPP charger and the management app."""

from __future__ import annotations

import html
import re

import httpx

from integration.management.pages import RunningManagement
from integration.management.public_harness import online, post_start, price_station
from integration.payments.payflow import Paid, checkout_session_id, start_charging
from integration.payments.reviewflow import (
    LAST_PLAUSIBLE_CENTS,
    Charging,
    decide,
    meter_jumps_and_stops,
)
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim

CHECKING = (
    "The charger's meter sent readings that cannot be right, so the amount is being checked"
    " by the operator before anything is charged."
)


def words(response: httpx.Response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


async def paid_on_the_public_page(
    server: RunningServer, stripe_sim: StripeSim, driver: httpx.AsyncClient
) -> Paid:
    started = await post_start(driver)
    assert started.status_code == 303, started.text
    checkout_url = started.headers["location"]
    success = (await stripe_sim.pay(checkout_url)).headers["location"]
    confirmed = await driver.get(success)
    assert confirmed.status_code == 303, confirmed.text
    reservation_id = confirmed.headers["location"].rsplit("=", 1)[1]
    return Paid(reservation_id, checkout_session_id(checkout_url), {"checkoutUrl": checkout_url})


async def test_the_driver_is_told_the_amount_is_being_checked_then_shown_the_decided_one(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    public_site: RunningManagement,
    driver: httpx.AsyncClient,
) -> None:
    await price_station(pay_server)
    cp = await online(pay_charger)
    paid = await paid_on_the_public_page(pay_server, stripe_sim, driver)
    transaction_id, id_tag = await start_charging(pay_server, cp, paid.reservation_id)
    await meter_jumps_and_stops(pay_server, Charging(paid, cp, transaction_id, id_tag))
    page = "/Payments/Status"
    shown = {"reservationId": paid.reservation_id}

    checking = words(await driver.get(page, params=shown))
    german = words(await driver.get(page, params={**shown, "lang": "de"}))
    await driver.get(page, params={**shown, "lang": "en"})

    assert CHECKING in checking
    assert "Energy being checked" in checking
    assert "Total charged to your card being checked" in checking
    assert "Card hold 9.00 EUR" in checking
    assert "0.00" not in checking  # no amount, and no energy, until someone decides
    assert "Released to your card" not in checking
    assert "wird der Betrag vom Betreiber geprüft, bevor etwas abgebucht wird" in german

    decided = await decide(pay_server, paid.reservation_id, "capture", LAST_PLAUSIBLE_CENTS)
    assert decided.status_code == 200, decided.text
    after = words(await driver.get(page, params=shown))

    assert "Total charged to your card 3.00 EUR" in after
    assert "Released to your card 6.00 EUR" in after
    assert "The amount was set by the operator after checking the charger's meter readings." in (
        after
    )
    assert CHECKING not in after
