"""The pages in the driver's or operator's language: chosen by link, remembered, or negotiated."""

from __future__ import annotations

import asyncio
import html
import re

import httpx
import pytest

from builders import add_charge_point, add_tag
from integration.management.pages import VIEWER, RunningManagement, log_in, post_login
from integration.management.public_harness import online, post_start, price_station
from ocpp_core.domain.pricing import Tariff
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim

START = {"cp": "CP1", "conn": "1"}


def words(response: httpx.Response) -> str:
    return " ".join(html.unescape(response.text).split())


def html_lang(response: httpx.Response) -> str:
    start = response.text.index("<html lang=")
    return response.text[start + 12 : response.text.index('"', start + 12)]


@pytest.mark.parametrize(
    ("accept", "lang", "phrases"),
    [
        (
            "de-DE,de;q=0.9,en;q=0.8",
            "de",
            ("Anschluss 1", "Bezahlen und Laden starten", "Brauchen Sie Hilfe?", "Preise"),
        ),
        ("fr-FR,fr;q=0.9", "fr", ("Prise 1", "Payer et démarrer la recharge", "Tarifs")),
        ("nl-BE,nl;q=0.9,en;q=0.5", "nl", ("Aansluiting 1", "Betalen en laden starten")),
        ("es-ES,es;q=0.9", "es", ("Conector 1", "Pagar e iniciar la carga", "Precios")),
    ],
)
async def test_a_driver_gets_the_start_page_in_the_browsers_language(
    pay_server: RunningServer,
    driver: httpx.AsyncClient,
    accept: str,
    lang: str,
    phrases: tuple[str, ...],
) -> None:
    await price_station(pay_server, "CP1", name="Harbour")

    page = await driver.get("/Public/Start", params=START, headers={"Accept-Language": accept})

    assert page.status_code == 200
    assert html_lang(page) == lang
    for phrase in phrases:
        assert phrase in words(page)
    assert "Pay and start charging" not in words(page)
    # The switcher offers the other driver languages, keeping the page's query.
    assert f'<strong lang="{lang}" aria-current="true">' in page.text
    assert 'href="/Public/Start?cp=CP1&amp;conn=1&amp;lang=en"' in page.text


async def test_quality_values_decide_and_an_unknown_language_falls_back_to_english(
    pay_server: RunningServer, driver: httpx.AsyncClient
) -> None:
    await price_station(pay_server, "CP1")

    preferred = await driver.get(
        "/Public/Start", params=START, headers={"Accept-Language": "fr;q=0.4, de;q=0, nl;q=0.8"}
    )
    unknown = await driver.get(
        "/Public/Start", params=START, headers={"Accept-Language": "ja, zh-CN;q=0.9"}
    )

    assert html_lang(preferred) == "nl"
    assert "Betalen en laden starten" in words(preferred)
    assert html_lang(unknown) == "en"
    assert "Pay and start charging" in words(unknown)


async def test_the_chosen_language_is_remembered_and_beats_the_browsers(
    pay_server: RunningServer, driver: httpx.AsyncClient
) -> None:
    await price_station(pay_server, "CP1")
    german = {"Accept-Language": "de"}

    chosen = await driver.get("/Public/Start", params={**START, "lang": "es"}, headers=german)
    later = await driver.get("/Public/Start", params=START, headers=german)
    # The operator pages have no Spanish: the browser's German it is.
    operator = await driver.get("/Account/Login", headers=german)

    assert "lang=es" in chosen.headers["set-cookie"]
    assert html_lang(chosen) == "es"
    assert html_lang(later) == "es"
    assert "Pagar e iniciar la carga" in words(later)
    assert html_lang(operator) == "de"


async def test_the_driver_error_pages_speak_the_drivers_language(
    public_site: RunningManagement, driver: httpx.AsyncClient
) -> None:
    french = {"Accept-Language": "fr"}

    charger = await driver.get("/Public/Start", params={"cp": "NOPE"}, headers=french)
    no_page = await driver.get("/Payments/Nowhere", headers={"Accept-Language": "nl"})
    operator_page = await driver.get("/Nowhere", headers=french)

    assert charger.status_code == 404
    assert "Borne introuvable" in words(charger)
    assert no_page.status_code == 404
    assert "Deze pagina bestaat niet." in words(no_page)
    assert html_lang(operator_page) == "en"
    assert "There is no such page." in words(operator_page)


async def test_interleaved_requests_keep_their_own_language(
    pay_server: RunningServer, driver: httpx.AsyncClient
) -> None:
    await price_station(pay_server, "CP1")
    languages = ["de", "fr", "nl", "es", "en"] * 4

    pages = await asyncio.gather(
        *(
            driver.get("/Public/Start", params=START, headers={"Accept-Language": lang})
            for lang in languages
        )
    )

    assert [html_lang(page) for page in pages] == languages


async def test_the_operator_gets_the_login_and_dashboard_in_german(
    management: RunningManagement, client: httpx.AsyncClient
) -> None:
    client.headers["Accept-Language"] = "de-AT, en;q=0.5"

    login = await client.get("/Account/Login")
    refused = await post_login(client, VIEWER[0], "not the password")
    await log_in(client, *VIEWER)
    dashboard = await client.get("/")

    assert html_lang(login) == "de"
    assert "Anmelden" in words(login)
    assert "Falscher Name oder falsches Passwort." in words(refused)
    assert html_lang(dashboard) == "de"
    for phrase in ("Übersicht", "Ladestationen", "Ladevorgänge", "vic abmelden"):
        assert phrase in words(dashboard)
    assert 'href="/?lang=en"' in dashboard.text
    assert "Français" not in dashboard.text  # the operator pages are English and German only


async def test_prices_are_written_with_the_languages_decimal_separator(
    pay_server: RunningServer, driver: httpx.AsyncClient
) -> None:
    tariff = Tariff(price_kwh_millicents=35_500, session_fee_cents=100, max_energy_wh=12_500)
    await price_station(pay_server, "CP1", tariff)

    german = words(await driver.get("/Public/Start", params={**START, "lang": "de"}))
    english = words(await driver.get("/Public/Start", params={**START, "lang": "en"}))

    for shown in ("0,355 EUR", "1,00 EUR", "12,5 kWh"):
        assert shown in german, shown
    assert "0.355" not in german
    for shown in ("0.355 EUR", "1.00 EUR", "12.5 kWh"):
        assert shown in english, shown


async def test_the_french_status_page_writes_the_hold_with_a_comma(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    stripe_sim: StripeSim,
    driver: httpx.AsyncClient,
) -> None:
    await price_station(pay_server, "CP1")  # a hold of 9.00 EUR
    await online(pay_charger, "CP1")
    paid = await stripe_sim.pay((await post_start(driver)).headers["location"])
    status_url = (await driver.get(paid.headers["location"])).headers["location"]

    french = words(await driver.get(status_url, headers={"Accept-Language": "fr"}))
    english = words(await driver.get(status_url, headers={"Accept-Language": "en"}))

    assert "9,00 EUR" in french
    assert "9.00 EUR" not in french
    assert "9.00 EUR" in english


def switch_hrefs(response: httpx.Response) -> list[str]:
    nav = response.text[response.text.index('<nav class="languages"') :]
    nav = nav[: nav.index("</nav>")]
    return [html.unescape(href) for href in re.findall(r'href="([^"]*)"', nav)]


async def test_the_language_links_are_built_from_the_route_never_from_the_raw_path(
    server: RunningServer, management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP+1")
    await add_tag(server.runtime.db, "A/B")
    await log_in(client, *VIEWER)

    station = await client.get("/Home/ChargePoint/CP%2B1", params={"confirm": "", "lang": "de"})
    tag = await client.get("/Home/ChargeTag/A/B")
    foreign = [await client.get(path) for path in ("//evil.example/x", "///evil.example/x")]
    nested = await client.get("/Home/ChargeTag//evil.example/x")

    assert switch_hrefs(station) == ["/Home/ChargePoint/CP%2B1?confirm=&lang=en"]
    assert switch_hrefs(tag) == ["/Home/ChargeTag/A/B?lang=en"]  # German is remembered
    for page in foreign:
        assert page.status_code == 404
        assert '<nav class="languages"' not in page.text  # no route, so no page to link to
        assert "evil.example" not in page.text
    assert all(href.startswith("/Home/") for href in switch_hrefs(nested))
