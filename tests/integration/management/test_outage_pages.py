"""PostgreSQL unreachable: every page says so in a clear 503 page and works again by itself.

Both apps reach the database through a relay the test cuts (see ``faults``).
(The server's ``/API`` answers 503 in JSON meanwhile: see
``integration/server/test_database_outage.py``.)
"""

from __future__ import annotations

import html
import logging

import httpx
import pytest
from sqlalchemy import update

from builders import NOW, add_charge_point, add_tag
from faults import DatabaseProxy, Fault
from integration.management.pages import ADMIN, RunningManagement, csrf_token, log_in
from ocpp_core.config import DatabaseSettings, Settings
from ocpp_core.db.models import ChargePoint
from ocpp_core.domain import connectors
from servers import RunningServer

pytestmark = pytest.mark.postgresql

LIMITS = DatabaseSettings(connect_timeout=1, command_timeout=2, pool_timeout=2)
MESSAGE = "The database can't be reached at the moment. Please try again in a minute."
GERMAN = "Die Datenbank ist gerade nicht erreichbar. Bitte versuchen Sie es in einer Minute erneut."
FRENCH = "La base de données est injoignable pour le moment. Veuillez réessayer dans une minute."

OPERATOR_PAGES = (
    "/",
    "/Home/Tiles",
    "/Account/Users",
    "/Home/ChargePoint",
    "/Home/ChargePoint/CP1",
    "/Home/ChargePoint/CP1/DeviceModel",
    "/Home/ChargePoint/CP1/Profiles",
    "/Home/QR/Labels.pdf",
    "/Home/QR/CP1/Labels.pdf",
    "/Home/QR/CP1/1.png",
    "/Home/Connector",
    "/Home/Connector/Live",
    "/Home/Connector/CP1/1",
    "/Home/Connector/CP1/1/Live",
    "/Home/ChargeTag",
    "/Home/ChargeTag/TAG1",
    "/Home/Transactions",
    "/Home/Export",
    "/Home/ExportXlsx",
    "/Home/Reports",
    "/Home/Reports/Csv",
    "/Home/Charts",
    "/Home/Payments",
    "/Home/MessageLog",
)
DRIVER_PAGES = ("/Public/Start?cp=CP1&conn=1",)


@pytest.fixture
def settings(settings: Settings, database_url: str, db_proxy: DatabaseProxy) -> Settings:
    relayed = db_proxy.url(database_url)
    return settings.model_copy(update={"database_url": relayed, "database": LIMITS})


@pytest.fixture
async def operator(
    server: RunningServer, management: RunningManagement, client: httpx.AsyncClient
) -> httpx.AsyncClient:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "TAG1")
    async with server.runtime.db.session() as session:  # a 2.0.1 charger with one EVSE
        await connectors.record_status(
            session, "CP1", 1, status="Available", error_code=None, at=NOW
        )
        await session.execute(
            update(ChargePoint).where(ChargePoint.id == "CP1").values(protocol="ocpp2.0.1")
        )
    await log_in(client, *ADMIN)
    return client


def unavailable(page: httpx.Response, message: str = MESSAGE) -> bool:
    shown = message in html.unescape(page.text)
    return page.status_code == 503 and shown and "Traceback" not in page.text


@pytest.mark.parametrize("fault", list(Fault))
async def test_every_page_says_the_database_is_away_and_works_again_after(
    operator: httpx.AsyncClient,
    db_proxy: DatabaseProxy,
    fault: Fault,
    caplog: pytest.LogCaptureFixture,
) -> None:
    form = (await operator.get("/Home/ChargeTag/@")).text
    caplog.set_level(logging.WARNING)
    async with db_proxy.outage(fault):
        during = {path: await operator.get(path) for path in OPERATOR_PAGES + DRIVER_PAGES}
        german = await operator.get("/Home/Transactions", params={"lang": "de"})
        french = await operator.get("/Public/Start?cp=CP1&conn=1&lang=fr")
        added = await operator.post(
            "/Home/ChargeTag/@", data={"csrf_token": csrf_token(form), "tag_id": "TAG2"}
        )
    after = {path: await operator.get(path) for path in OPERATOR_PAGES + DRIVER_PAGES}

    assert [path for path, page in during.items() if not unavailable(page)] == []
    assert unavailable(german, GERMAN)
    assert unavailable(french, FRENCH)
    assert unavailable(added)
    assert {path: page.status_code for path, page in after.items() if page.status_code != 200} == {}
    assert all(record.exc_info is None for record in caplog.records)
    assert {record.name for record in caplog.records} == {"ocpp_core.db.health"}
