"""Exports, charts and reports find a period's transactions through migrations 0015-0016's indexes.

The statements are the real ones, caught on their way to PostgreSQL and asked
for their plan there, over a year of an analysed fleet's transactions: a
planner that weighs rows is the one that can choose a full scan instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import event, insert, text

from builders import NOW, add_charge_point
from ocpp_core.db.models import Transaction
from ocpp_core.db.session import Database
from ocpp_core.domain import reporting, transaction_export
from ocpp_core.domain.reporting import Period
from ocpp_core.domain.transactions import TransactionFilter

pytestmark = pytest.mark.postgresql

STATIONS = 200
YEAR = 30_000  # transactions, one every 17.5 minutes over the year before NOW
_SCANS = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}
Statement = tuple[str, Any]


@pytest.fixture
async def year(db: Database) -> Database:
    for number in range(STATIONS):
        await add_charge_point(db, f"CP{number:03}")
    step = timedelta(days=365) / YEAR
    rows = [
        {
            "charge_point_id": f"CP{n % STATIONS:03}",
            "connector_id": 1 + n % 2,
            "start_tag": "TAG1",
            "start_at": NOW - n * step,
            "meter_start_wh": 0,
            "start_result": "Accepted",
            "stop_at": None if n < 10 else NOW - n * step + timedelta(minutes=40),
            "energy_wh": 7_000,
        }
        for n in range(YEAR)
    ]
    async with db.session() as session:
        await session.execute(insert(Transaction), rows)
    async with db.connection() as connection:
        await connection.execute(text("ANALYZE transactions"))
        await connection.commit()
    return db


@contextmanager
def caught(db: Database) -> Iterator[list[Statement]]:
    statements: list[Statement] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", keep)


async def indexes_of(db: Database, statements: list[Statement], fragment: str) -> set[str]:
    """The indexes scanned by the plans of the statements that mention ``fragment``."""
    found: set[str] = set()
    async with db.connection() as connection:
        for sql, parameters in statements:
            if fragment in sql:
                result = await connection.exec_driver_sql(
                    f"EXPLAIN (FORMAT JSON) {sql}", parameters
                )
                plan = result.scalar_one()
                found |= _scanned(orjson.loads(plan) if isinstance(plan, str) else plan)
    return found


def _scanned(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*(_scanned(item) for item in node))
    if not isinstance(node, dict):
        return set()
    own = {node["Index Name"]} if node.get("Node Type") in _SCANS else set()
    return own.union(*(_scanned(child) for child in node.get("Plans", [node.get("Plan")])))


def last_week() -> Period:
    end = datetime(NOW.year, NOW.month, NOW.day, tzinfo=UTC)
    return Period(end - timedelta(days=7), end)


async def export_statements(db: Database, where: TransactionFilter) -> list[Statement]:
    with caught(db) as statements:
        batches = transaction_export.batches(db, where, up_to=YEAR)
        async for _ in batches:  # the first batch, and one after a key where there are more
            if len(statements) == 2:
                break
        await batches.aclose()
    return statements


async def test_an_export_reads_its_batches_in_start_order_from_the_index(year: Database) -> None:
    statements = await export_statements(year, TransactionFilter())

    assert "ix_transactions_start_at_id" in await indexes_of(year, statements, "ORDER BY")


async def test_a_week_of_charts_reads_only_that_week(year: Database) -> None:
    with caught(year) as statements:
        async with year.reading() as session:
            await reporting.over_time(session, last_week(), limit=10)
            await reporting.per_connector(session, last_week(), now=NOW, limit=10)

    assert "ix_transactions_start_at_id" in await indexes_of(year, statements, "AS DATE)")
    assert {"ix_transactions_start_at_id", "ix_transactions_stop_at"} <= await indexes_of(
        year, statements, "epoch"
    )


async def test_a_year_of_the_report_lists_the_sessions_under_review_from_their_own_index(
    year: Database,
) -> None:
    period = Period(NOW - timedelta(days=365), NOW)
    with caught(year) as statements:
        async with year.reading() as session:
            await reporting.charge_report(session, period)

    assert "ix_transactions_review" in await indexes_of(year, statements, "IS NOT NULL")
