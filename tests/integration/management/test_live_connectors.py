"""Connector pages stay live as the dashboard does; tiles lead to a connector's pages."""

from __future__ import annotations

import re

import httpx
from ocpp.v16 import call

from builders import add_charge_point, add_tag, timestamp
from integration.management.pages import VIEWER, log_in
from integration.management.test_dashboard import tile_html
from servers import ConnectCharger, RunningServer

_POLL = re.compile(r'hx-get="([^"]+)" hx-trigger="every 0.5s" hx-swap="outerHTML"')
_VERSION = re.compile(r'data-version="([0-9a-f]+)"')


async def polled(client: httpx.AsyncClient, page_url: str) -> tuple[str, str]:
    """The fragment URL a page polls and the version it shows."""
    html = (await client.get(page_url)).text
    [url] = _POLL.findall(html)
    [version] = _VERSION.findall(html)
    return url, version


async def test_both_connector_pages_poll_and_204_until_something_changes(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP+1", name="Yard")
    cp = await charger("CP+1")
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    await log_in(client, *VIEWER)

    for page_url, fragment_url in (
        ("/Home/Connector", "/Home/Connector/Live"),
        ("/Home/Connector/CP%2B1/1", "/Home/Connector/CP%2B1/1/Live"),
    ):
        url, version = await polled(client, page_url)
        assert url == fragment_url
        assert (await client.get(url, params={"v": version})).status_code == 204

    lists_version = (await polled(client, "/Home/Connector"))[1]
    one_version = (await polled(client, "/Home/Connector/CP%2B1/1"))[1]
    await cp.call(call.StatusNotification(1, "NoError", "Charging", timestamp=timestamp()))
    sample = {
        "timestamp": timestamp(),
        "sampledValue": [
            {"value": "12345", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": "61", "measurand": "SoC", "unit": "Percent"},
        ],
    }
    await cp.call(call.MeterValues(1, [sample]))
    listed = await client.get("/Home/Connector/Live", params={"v": lists_version})
    one = await client.get("/Home/Connector/CP%2B1/1/Live", params={"v": one_version})

    for changed in (listed, one):
        assert changed.status_code == 200
        assert "<html" not in changed.text  # the fragment alone
        for value in ("Charging", "7.4 kW", "12.35 kWh", "61 %"):
            assert value in changed.text, value
    assert _VERSION.findall(listed.text) != [lists_version]
    assert 'href="/Home/Connector/CP%2B1/1"' in listed.text


async def test_an_open_transaction_does_not_make_every_poll_a_change(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "TAG1")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Preparing", timestamp=timestamp()))
    await cp.call(call.StartTransaction(1, "TAG1", 10_000, timestamp()))
    await log_in(client, *VIEWER)

    url, version = await polled(client, "/Home/Connector/CP1/1")
    page = (await client.get("/Home/Connector/CP1/1")).text

    assert "tag TAG1" in page
    assert (await client.get(url, params={"v": version})).status_code == 204


async def test_the_fragment_of_an_unknown_connector_is_404(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await log_in(client, *VIEWER)

    assert (await client.get("/Home/Connector/CP1/9/Live")).status_code == 404


async def test_each_tile_links_to_its_connector_and_its_transactions(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP+1", name="Yard")
    await add_charge_point(server.runtime.db, "CP2")  # has not reported a connector yet
    cp = await charger("CP+1")
    for number in (1, 2):
        await cp.call(
            call.StatusNotification(number, "NoError", "Available", timestamp=timestamp())
        )
    await log_in(client, *VIEWER)

    html = (await client.get("/")).text

    for number in (1, 2):
        tile = tile_html(html, f"CP+1/{number}")
        assert (
            f'<a href="/Home/Connector/CP%2B1/{number}" '
            f'aria-label="Connector page of Yard:{number}">Connector</a>'
        ) in tile
        assert (
            f'<a href="/Home/Transactions?cp=CP%2B1&amp;conn={number}" '
            f'aria-label="Transactions of Yard:{number}">Transactions</a>'
        ) in tile
    station = tile_html(html, "CP2/0")
    assert 'href="/Home/Transactions?cp=CP2"' in station
    assert "/Home/Connector/" not in station
    filtered = await client.get("/Home/Transactions", params={"cp": "CP+1", "conn": "2"})
    assert filtered.status_code == 200
