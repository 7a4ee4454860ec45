"""The dashboard: tiles from a real server with real chargers, and from the database."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

import httpx
from ocpp.v16 import call
from pydantic import SecretStr

from builders import NOW, add_charge_point, add_tag, timestamp
from integration.management.pages import (
    ADMIN,
    PASSWORD_COST,
    VIEWER,
    RunningManagement,
    add_operator,
    log_in,
    running_management,
)
from integration.management.public_harness import online, post_start, price_station
from ocpp_core.clock import utc_now
from ocpp_core.config import ManagementSettings, Settings
from ocpp_core.db.models import Connector
from ocpp_core.domain.users import Role
from servers import ConnectCharger, RunningServer

_TILE = re.compile(
    r'<article class="tile tile--(\w+)" id="[^"]*" data-tile="([^"]+)"\s+data-status="([^"]+)"'
)
_VERSION = re.compile(r'data-version="([0-9a-f]+)"')


def tiles(html: str) -> dict[str, tuple[str, str]]:
    """Each tile's key with its kind and status."""
    return {key: (kind, status) for kind, key, status in _TILE.findall(html)}


def tile_html(html: str, key: str) -> str:
    start = html.index(f'data-tile="{key}"')
    return html[start : html.index("</article>", start)]


async def test_a_connected_chargers_connector_shows_its_status(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1", name="Yard")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    await log_in(client, *VIEWER)

    page = await client.get("/")

    assert page.status_code == 200
    assert tiles(page.text) == {"CP1/1": ("available", "Available")}
    assert '<h2 id="tile-CP1/1-name">Yard</h2>' in page.text  # one connector: the station's name


async def test_a_charging_tile_shows_power_energy_soc_and_duration(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1", name="Yard")
    await add_tag(db, "TAG1")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Preparing", timestamp=timestamp()))
    started = await cp.call(call.StartTransaction(1, "TAG1", 10_000, timestamp()))
    later = timestamp(NOW + timedelta(minutes=10))
    await cp.call(call.StatusNotification(1, "NoError", "Charging", timestamp=later))
    sample = {
        "timestamp": later,
        "sampledValue": [
            {"value": "11500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": "42", "measurand": "SoC", "unit": "Percent"},
        ],
    }
    await cp.call(call.MeterValues(1, [sample], transaction_id=started.transaction_id))
    await log_in(client, *ADMIN)

    html = (await client.get("/")).text

    assert tiles(html) == {"CP1/1": ("occupied", "Charging")}
    tile = tile_html(html, "CP1/1")
    assert "<dd>7.4 kW</dd>" in tile
    assert "<dd>1.50 kWh</dd>" in tile
    assert "<dd>42 %</dd>" in tile
    assert '<time datetime="2026-11-28T12:00:00+00:00">12:00 UTC</time>' in tile


async def test_a_refused_start_does_not_make_a_tile_busy(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    refused = await cp.call(call.StartTransaction(2, "UNKNOWN", 10_000, timestamp()))
    assert refused.id_tag_info["status"] == "Invalid"
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    await log_in(client, *VIEWER)

    html = (await client.get("/")).text

    # Connector 2 never reported a status: only a running transaction would make it busy.
    assert tiles(html) == {"CP1/1": ("available", "Available"), "CP1/2": ("unknown", "Unknown")}
    assert "Since" not in tile_html(html, "CP1/2")


async def test_several_connectors_are_numbered_and_a_name_wins(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1", name="Yard")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    await cp.call(call.StatusNotification(2, "GroundFailure", "Faulted", timestamp=timestamp()))
    async with db.session() as session:
        connector = await session.get(Connector, ("CP1", 2))
        assert connector is not None
        connector.name = "Left bay"
    await log_in(client, *VIEWER)

    html = (await client.get("/")).text

    assert tiles(html) == {"CP1/1": ("available", "Available"), "CP1/2": ("faulted", "Faulted")}
    assert ">Yard:1</h2>" in html
    assert ">Left bay</h2>" in html
    assert "(GroundFailure)" in tile_html(html, "CP1/2")


async def test_a_charger_that_is_not_connected_is_offline_with_its_last_report(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_charge_point(server.runtime.db, "CP2", name="Never seen")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Charging", timestamp=timestamp()))
    await cp.connection.websocket.close()
    await log_in(client, *VIEWER)

    # Nothing signals when the server has handled the disconnect, so poll.
    async with asyncio.timeout(5):
        while 'data-status="Charging"' in (html := (await client.get("/")).text):  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    assert tiles(html) == {"CP1/1": ("offline", "Offline"), "CP2/0": ("offline", "Offline")}
    assert "Last reported: Charging" in tile_html(html, "CP1/1")


async def test_an_unreachable_server_shows_a_banner_and_the_stored_state(
    settings: Settings, server: RunningServer
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1", name="Yard")
    async with db.session() as session:
        session.add(Connector(charge_point_id="CP1", connector_id=1, status="Available"))
        await add_operator(session, VIEWER, Role.VIEWER)
    section = ManagementSettings(
        server_api_url="http://127.0.0.1:9",  # nothing listens on the discard port
        server_api_timeout=2,
        session_secret=SecretStr("s" * 40),
        password_cost=PASSWORD_COST,
    )
    async with (
        running_management(settings.model_copy(update={"management": section})) as management,
        httpx.AsyncClient(base_url=management.url) as client,
    ):
        await log_in(client, *VIEWER)
        html = (await client.get("/")).text

    assert 'role="alert"' in html
    assert "The OCPP server can't be reached" in html
    assert tiles(html) == {"CP1/1": ("available", "Available")}
    assert "Online state unknown" in html


async def test_the_fragment_is_204_while_nothing_changes(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    await log_in(client, *VIEWER)
    [version] = _VERSION.findall((await client.get("/")).text)

    unchanged = await client.get("/Home/Tiles", params={"v": version})
    await cp.call(call.StatusNotification(1, "NoError", "Preparing", timestamp=timestamp()))
    changed = await client.get("/Home/Tiles", params={"v": version})

    assert unchanged.status_code == 204
    assert changed.status_code == 200
    assert "<html" not in changed.text  # the fragment alone
    assert tiles(changed.text) == {"CP1/1": ("occupied", "Preparing")}
    assert _VERSION.findall(changed.text) != [version]


async def test_no_charge_points_says_how_to_add_one(client: httpx.AsyncClient) -> None:
    await log_in(client, *VIEWER)

    html = (await client.get("/")).text

    assert "ocpp-core chargepoint add ID --generate-password" in html


async def test_the_dashboard_polls_at_the_configured_pace(
    management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await log_in(client, *VIEWER)

    html = (await client.get("/")).text

    assert 'hx-get="/Home/Tiles" hx-trigger="every 0.5s"' in html


async def test_a_connector_held_by_a_payment_shows_reserved_as_on_the_driver_page(
    pay_server: RunningServer,
    pay_charger: ConnectCharger,
    public_site: RunningManagement,
    driver: httpx.AsyncClient,
    other_driver: httpx.AsyncClient,
) -> None:
    await price_station(pay_server, "CP1")
    cp = await online(pay_charger, "CP1")
    await cp.call(call.StatusNotification(2, "NoError", "Available", timestamp=timestamp()))
    assert (await post_start(driver)).status_code == 303  # held for the driver at Checkout
    async with public_site.db.session() as session:
        await add_operator(session, VIEWER, Role.VIEWER)
    async with httpx.AsyncClient(base_url=public_site.url) as operator:
        await log_in(operator, *VIEWER)

        html = (await operator.get("/")).text

    assert tiles(html) == {"CP1/1": ("occupied", "Reserved"), "CP1/2": ("available", "Available")}
    seen = await other_driver.get("/Public/Start", params={"cp": "CP1", "conn": "1"})
    assert 'data-status="reserved"' in seen.text

    # Left unpaid past its brief hold, it keeps nobody off: both pages say so.
    hold = timedelta(minutes=public_site.context.settings.payments.unpaid_hold_minutes + 1)
    public_site.context.clock = lambda: utc_now() + hold
    async with httpx.AsyncClient(base_url=public_site.url) as operator:
        await log_in(operator, *VIEWER)
        later = (await operator.get("/")).text
    assert tiles(later)["CP1/1"] == ("available", "Available")
    seen = await other_driver.get("/Public/Start", params={"cp": "CP1", "conn": "1"})
    assert 'data-status="available"' in seen.text


_POLL_VALUES = re.compile(r'id="tiles-poll"[^>]* hx-vals=\'([^\']*)\'')
_TOTAL = re.compile(r'<dd data-total="(\w+)">([^<]*)</dd>')


def poll_values(html: str) -> dict[str, str]:
    """What the dashboard's poll sends back: its page and the versions it shows."""
    [values] = _POLL_VALUES.findall(html)
    shown: dict[str, str] = json.loads(values)
    return shown


def totals(html: str) -> dict[str, str]:
    return dict(_TOTAL.findall(html))


async def test_the_live_refresh_sends_only_the_tile_that_changed(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    for number in (1, 2, 3):
        await cp.call(
            call.StatusNotification(number, "NoError", "Available", timestamp=timestamp())
        )
    await log_in(client, *VIEWER)
    shown = poll_values((await client.get("/")).text)

    unchanged = await client.get("/Home/Tiles", params=shown)
    await cp.call(call.StatusNotification(2, "NoError", "Charging", timestamp=timestamp()))
    changed = await client.get("/Home/Tiles", params=shown)

    assert unchanged.status_code == 204
    assert changed.status_code == 200
    assert tiles(changed.text) == {"CP1/2": ("occupied", "Charging")}  # the others stay
    assert 'hx-swap-oob="true"' in changed.text
    assert totals(changed.text)["charging"] == "1"
    newer = poll_values(changed.text)
    assert newer["v"] != shown["v"]
    assert (await client.get("/Home/Tiles", params=newer)).status_code == 204


async def test_a_tile_that_joins_the_page_sends_the_page_again(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    await log_in(client, *VIEWER)
    shown = poll_values((await client.get("/", params={"show": "faulted"})).text)

    await cp.call(call.StatusNotification(2, "GroundFailure", "Faulted", timestamp=timestamp()))
    changed = await client.get("/Home/Tiles", params=shown)

    assert tiles(changed.text) == {"CP1/2": ("faulted", "Faulted")}
    assert '<div id="tiles" hx-swap-oob="true">' in changed.text
    assert totals(changed.text)["faulted"] == "1"


async def test_filters_and_pages_of_tiles(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    db = server.runtime.db
    for cp_id in ("CP1", "CP2"):
        await add_charge_point(db, cp_id)
    async with db.session() as session:  # 60 connectors reported before: more than a page
        session.add_all(Connector(charge_point_id="CP2", connector_id=n) for n in range(1, 61))
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Faulted", timestamp=timestamp()))
    await log_in(client, *VIEWER)

    faulted = (await client.get("/", params={"show": "faulted"})).text
    offline = (await client.get("/", params={"show": "offline"})).text
    searched = (await client.get("/", params={"q": "cp1"})).text

    assert tiles(faulted) == {"CP1/1": ("faulted", "Faulted")}
    assert len(tiles(offline)) == 48
    assert 'rel="next" href="/?show=offline&amp;after=CP2%2F48"' in offline
    second = (await client.get("/", params={"show": "offline", "after": "CP2/48"})).text
    assert list(tiles(second)) == [f"CP2/{n}" for n in range(49, 61)]
    assert 'rel="next"' not in second
    assert tiles(searched) == {"CP1/1": ("faulted", "Faulted")}
    assert totals(faulted) == {
        "online": "1",
        "offline": "1",
        "charging": "0",
        "faulted": "1",
        "reserved": "0",
        "energy": "0.0 kWh",
        "revenue": "\u2013",  # an en dash: nothing earned yet
    }


async def test_bad_dashboard_parameters_are_a_clear_400(client: httpx.AsyncClient) -> None:
    await log_in(client, *VIEWER)
    bad = [
        ("/", {"show": "everything"}),
        ("/", {"q": "x" * 101}),
        ("/", {"after": "no-connector"}),
        ("/", {"after": "CP1/99999999999"}),
        ("/Home/Tiles", {"t": "zz"}),
        ("/Home/Tiles", {"t": ".".join(["0123abcd"] * 49)}),
        ("/Home/Tiles", {"v": "x" * 17}),
    ]
    for path, params in bad:
        answer = await client.get(path, params=params)
        assert answer.status_code == 400, params
