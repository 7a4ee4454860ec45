"""Transactions over real HTTP: filters, energy and cost, and the CSV and XLSX exports read back."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import httpx
import openpyxl
import pytest

from builders import NOW, add_charge_point, add_tag
from integration.management.admin_helpers import error_of
from integration.management.pages import VIEWER, log_in
from ocpp_core.db.models import ChargeTag, PaymentReservation, Transaction
from ocpp_core.db.session import Database
from servers import RunningServer

DAY = timedelta(days=1)


async def add_transaction(
    db: Database,
    cp_id: str,
    connector_id: int,
    start: datetime,
    energy_wh: int | None,
    *,
    captured_cents: int | None = None,
    tag: str = "TAG1",
) -> int:
    async with db.session() as session:
        row = Transaction(
            charge_point_id=cp_id,
            connector_id=connector_id,
            start_tag=tag,
            start_at=start,
            meter_start_wh=10_000,
            start_result="Accepted",
            stop_tag=tag,
            stop_at=start + timedelta(hours=1),
            meter_stop_wh=10_000 + (energy_wh or 0),
            stop_reason="Local",
            energy_wh=energy_wh,
            review_reason=None if energy_wh is not None else "stop register below sampled",
        )
        session.add(row)
        await session.flush()
        if captured_cents is not None:
            session.add(_reservation(cp_id, connector_id, row.id, captured_cents, start))
        return row.id


def _reservation(
    cp_id: str, connector_id: int, transaction_id: int, captured: int, at: datetime
) -> PaymentReservation:
    return PaymentReservation(
        id=str(uuid.uuid4()),
        charge_point_id=cp_id,
        connector_id=connector_id,
        charge_tag_id="WEB-1",
        ocpp_id_tag="R1",
        status="Completed",
        price_kwh_millicents=40_000,
        session_fee_cents=100,
        usage_fee_minute_millicents=0,
        usage_grace_minutes=0,
        usage_max_minutes=0,
        usage_after_charging=False,
        max_energy_wh=20_000,
        currency="eur",
        hold_cents=900,
        authorized_cents=900,
        captured_cents=captured,
        money_state="Captured",
        transaction_id=transaction_id,
        created_at=at,
        updated_at=at,
    )


@pytest.fixture
async def history(server: RunningServer) -> dict[str, int]:
    db = server.runtime.db
    for cp_id in ("CP1", "CP2"):
        await add_charge_point(db, cp_id)
    await add_tag(db, "TAG1")
    async with db.session() as session:
        tag = await session.get(ChargeTag, "TAG1")
        assert tag is not None
        tag.name = "=Alice"  # a name a spreadsheet must not run as a formula
    return {
        "paid": await add_transaction(db, "CP1", 1, NOW - 2 * DAY, 12_500, captured_cents=600),
        "other connector": await add_transaction(db, "CP1", 2, NOW - 2 * DAY, 3_000),
        "too old": await add_transaction(db, "CP1", 1, NOW - 40 * DAY, 1_000),
        "other station": await add_transaction(db, "CP2", 1, NOW - 2 * DAY, 2_000),
        "review": await add_transaction(db, "CP1", 1, NOW - 1 * DAY, None),
    }


FILTER = {"cp": "CP1", "conn": "1", "since": "2026-11-20", "until": "2026-11-27"}


async def test_the_page_filters_and_shows_energy_and_cost(
    history: dict[str, int], client: httpx.AsyncClient
) -> None:
    await log_in(client, *VIEWER)

    html = (await client.get("/Home/Transactions", params=FILTER)).text

    shown = {key for key, tx_id in history.items() if f'data-transaction="{tx_id}"' in html}
    assert shown == {"paid", "review"}
    paid = html[html.index(f'data-transaction="{history["paid"]}"') :]
    paid = paid[: paid.index("</tr>")]
    assert "12.500" in paid
    assert "6.00 EUR" in paid
    assert "=Alice" in paid  # the tag's name, escaped by the page
    assert "review: stop register below sampled" in html
    assert "2 transactions, 12.500 kWh" in html
    assert 'href="/Home/Export?cp=CP1&amp;conn=1&amp;since=2026-11-20&amp;until=2026-11-27"' in html


async def test_the_csv_export_holds_the_filtered_set(
    history: dict[str, int], client: httpx.AsyncClient
) -> None:
    await log_in(client, *VIEWER)

    response = await client.get("/Home/Export", params=FILTER)

    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="Transactions_CP1_1_2-rows.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert [int(row["Transaction"]) for row in rows] == [history["review"], history["paid"]]
    paid = rows[1]
    assert paid["Charge point"] == "CP1"
    assert paid["Start (UTC)"] == "2026-11-26 12:00:00"
    assert paid["Energy (kWh)"] == "12.5"
    assert (paid["Cost"], paid["Currency"], paid["Payment status"]) == ("6.00", "EUR", "Completed")
    assert paid["Start tag name"] == "'=Alice"  # kept as text
    assert rows[0]["Energy (kWh)"] == ""
    assert rows[0]["Review"] == "stop register below sampled"


async def test_the_xlsx_export_holds_the_filtered_set(
    history: dict[str, int], client: httpx.AsyncClient
) -> None:
    await log_in(client, *VIEWER)

    response = await client.get("/Home/ExportXlsx", params={"cp": "CP1"})

    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    lines = [dict(zip(header, row, strict=True)) for row in rows]
    assert sorted(line["Transaction"] for line in lines) == sorted(
        history[key] for key in ("paid", "other connector", "too old", "review")
    )
    paid = next(line for line in lines if line["Transaction"] == history["paid"])
    assert paid["Start (UTC)"] == datetime(2026, 11, 26, 12, 0)
    assert Decimal(str(paid["Energy (kWh)"])) == Decimal("12.5")
    assert Decimal(str(paid["Cost"])) == Decimal("6")
    assert paid["Start tag name"] == "=Alice"  # a string cell, not a formula
    cell = next(c for c in sheet["F"] if c.value == "=Alice")
    assert cell.data_type == "s"


@pytest.mark.parametrize("path", ["/Home/Export", "/Home/ExportXlsx"])
async def test_an_export_filtered_by_any_typed_station_is_named_in_plain_letters(
    history: dict[str, int], client: httpx.AsyncClient, path: str
) -> None:
    """The station field takes any text; a file name goes in a header, which holds Latin-1."""
    await log_in(client, *VIEWER)

    response = await client.get(path, params={"cp": 'Žminj "1"/é'})

    assert response.status_code == 200
    assert 'filename="Transactions__minj__1___' in response.headers["content-disposition"]
    assert response.headers["content-disposition"].isascii()


async def test_a_bad_filter_is_explained_next_to_its_field(
    history: dict[str, int], client: httpx.AsyncClient
) -> None:
    await log_in(client, *VIEWER)

    response = await client.get(
        "/Home/Transactions", params={"conn": "one", "since": "2026-11-20", "until": "2026-11-01"}
    )

    assert response.status_code == 400
    assert "A connector number" in error_of(response.text, "conn")
    assert "The end is before the start." in error_of(response.text, "until")
