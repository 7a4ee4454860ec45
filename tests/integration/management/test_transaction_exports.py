"""The transaction exports at fleet scale: every row, its count in the name, slots, memory.

The small-set behaviour (filters, cells, formulas kept as text) is tested with
the transactions page in ``test_admin_transactions.py``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import cast
from xml.etree.ElementTree import iterparse

import httpx
import pytest
from sqlalchemy import Table, insert

from builders import NOW, add_charge_point
from integration.management.pages import (
    SESSION_SECRET,
    VIEWER,
    RunningManagement,
    add_operator,
    log_in,
)
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.models import Transaction
from ocpp_core.db.session import Database
from ocpp_core.domain import transaction_export
from ocpp_core.domain.users import Role
from ocpp_core.security import OPERATOR_COST
from servers import free_port, until_listening

OLD_CAP = 100_000  # where both exports used to stop, saying nothing
MANY_ROWS = OLD_CAP + 50_000
MB = 1024 * 1024
SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
TRANSACTIONS = cast(Table, Transaction.__table__)


async def add_many(db: Database, count: int) -> None:
    """``count`` finished transactions at CP1, one a minute back from ``NOW``, ids from 1."""
    await add_charge_point(db, "CP1")
    rows = [
        {
            "charge_point_id": "CP1",
            "connector_id": 1 + n % 2,
            "start_tag": "TAG1",
            "start_at": NOW - timedelta(minutes=n),
            "meter_start_wh": 1_000 * n,
            "start_result": "Accepted",
            "stop_at": NOW - timedelta(minutes=n) + timedelta(seconds=30),
            "meter_stop_wh": 1_000 * n + 500,
            "energy_wh": 500,
        }
        for n in range(count)
    ]
    # Core's insert, not the ORM's bulk one: a third less CPU for the same rows.
    for start in range(0, count, 10_000):
        async with db.session() as session:
            connection = await session.connection()
            await connection.execute(insert(TRANSACTIONS), rows[start : start + 10_000])


def first_column(book: bytes) -> list[str | int]:
    """Column A of the workbook's only sheet, row by row, read straight from its XML.

    openpyxl reading 100,000 rows was two thirds of this test's time (it parses the
    sheet twice, every cell into an object); that it reads what the writer writes,
    cell by cell and sheet by sheet, is ``tests/unit/management/test_xlsx.py``'s test.
    """
    values: list[str | int] = []
    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        assert [name for name in archive.namelist() if name.startswith("xl/worksheets/")] == [
            "xl/worksheets/sheet1.xml"
        ]
        with archive.open("xl/worksheets/sheet1.xml") as sheet:
            for _, element in iterparse(sheet):  # noqa: S314 - our own output
                if element.tag != f"{SHEET}row":
                    continue
                cell = element[0]
                assert cell.get("r") == f"A{element.get('r')}", "a row without its column A"
                if cell.get("t") == "inlineStr":
                    values.append(str(cell.findtext(f"{SHEET}is/{SHEET}t")))
                else:
                    values.append(int(str(cell.findtext(f"{SHEET}v"))))
                element.clear()
    return values


def csv_ids(body: bytes) -> list[int]:
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    return [int(line[0]) for line in lines[1:]]


def rows_in_name(response: httpx.Response) -> int:
    found = re.search(
        r'filename="Transactions_(\d+)-rows\.(csv|xlsx)"', response.headers["content-disposition"]
    )
    assert found is not None, response.headers["content-disposition"]
    return int(found.group(1))


async def test_an_export_holds_every_batch_and_names_their_count(
    management: RunningManagement, client: httpx.AsyncClient
) -> None:
    total = 2 * transaction_export.BATCH_SIZE + 7
    await add_many(management.db, total)
    await log_in(client, *VIEWER)

    csv_file = await client.get("/Home/Export")
    xlsx_file = await client.get("/Home/ExportXlsx")

    assert rows_in_name(csv_file) == total
    assert csv_ids(csv_file.content) == list(range(1, total + 1))  # newest first: id 1 is at NOW
    assert rows_in_name(xlsx_file) == total
    assert first_column(xlsx_file.content) == ["Transaction", *range(1, total + 1)]


async def test_an_export_past_the_limit_is_told_to_try_again_shortly(
    management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await add_many(management.db, 3)
    await log_in(client, *VIEWER)
    context = management.context
    limit = context.settings.management.max_exports
    taken = [await context.exports.take(context.db, limit=limit) for _ in range(limit)]

    busy = await client.get("/Home/ExportXlsx")
    for slot in taken:
        assert slot is not None
        await slot.give_back()
    free = await client.get("/Home/ExportXlsx")

    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "30"
    assert "Other exports are being written right now" in busy.text
    assert free.status_code == 200
    assert rows_in_name(free) == 3


def memory_kib(pid: int) -> dict[str, int]:
    """The process's resident set now (VmRSS) and at its peak (VmHWM), in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {key: int(value.split()[0]) for key, value in re.findall(r"(Vm\w+):\s+(.+)", status)}


def reset_peak(pid: int) -> None:
    """VmHWM starts again from the current resident set (see proc(5), clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@pytest.fixture
async def management_process(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[str, int]]:
    """``ocpp-core management`` in a process of its own, with more rows than the old cap."""
    await upgrade(database_url)
    db = Database(database_url)
    try:
        await add_many(db, MANY_ROWS)
        async with db.session() as session:
            await add_operator(session, VIEWER, Role.VIEWER, OPERATOR_COST)
    finally:
        await db.close()
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("OCPP_CORE_")}
    env |= {
        "OCPP_CORE_DATABASE_URL": database_url,
        "OCPP_CORE_API_KEY": "test-api-key-0123456789abcdef",
        "OCPP_CORE_MANAGEMENT__SESSION_SECRET": SESSION_SECRET,
        "OCPP_CORE_LOG_LEVEL": "warning",
    }
    log = tmp_path / "management.log"
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "ocpp-core"),
            "management",
            f"--port={port}",
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        await until_listening(port, process, log)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.kill()
        await process.wait()


@pytest.mark.long
async def test_an_export_past_the_old_cap_streams_whole_in_flat_memory(
    management_process: tuple[str, int],
) -> None:
    """The server in a process of its own: its memory is measured, and it writes at full
    speed rather than under the suite's coverage tracer."""
    url, pid = management_process
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        await log_in(client, *VIEWER)
        for path in ("/Home/Export", "/Home/ExportXlsx"):  # first use: imports, pools, caches
            await client.get(path, params={"cp": "CP1", "since": "2026-11-28"})
        reset_peak(pid)
        before = memory_kib(pid)["VmRSS"]
        exports: dict[str, tuple[httpx.Response, bytes]] = {}
        for path in ("/Home/Export", "/Home/ExportXlsx"):
            async with client.stream("GET", path) as response:
                body = b"".join([chunk async for chunk in response.aiter_bytes()])
                exports[path] = (response, body)
        peak = memory_kib(pid)["VmHWM"]

    csv_file, csv_body = exports["/Home/Export"]
    xlsx_file, xlsx_body = exports["/Home/ExportXlsx"]
    every_id = list(range(1, MANY_ROWS + 1))
    assert rows_in_name(csv_file) == MANY_ROWS
    assert rows_in_name(xlsx_file) == MANY_ROWS
    # Read with C's regular expressions: a Python loop over each row would take the
    # test longer than the server takes to write them. How a row reads back, cell by
    # cell, is the small export's test above.
    assert csv_body.count(b"\r\n") == MANY_ROWS + 1
    assert list(map(int, re.findall(rb"^(\d+);", csv_body, re.MULTILINE))) == every_id
    with zipfile.ZipFile(io.BytesIO(xlsx_body)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    assert sheet.count(b"<row ") == MANY_ROWS + 1
    assert list(map(int, re.findall(rb'<c r="A\d+"><v>(\d+)</v>', sheet))) == every_id
    assert (peak - before) * 1024 < 50 * MB
