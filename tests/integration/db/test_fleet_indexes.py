"""The fleet's lists use their indexes (migration 0012, and 0010's message log index).

The queries are the real ones: the SQL that the pages and the domain functions
send, caught on its way to the database and asked for its plan there, on the
fleet data set (see ``fleet_harness``). PostgreSQL's planner weighs the rows,
so the data set is analysed; SQLite's plan is what a fresh install gets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from fleet_harness import FleetSite
from ocpp_core.db.session import Database
from ocpp_core.domain import transactions

Statement = tuple[str, Any]
_PG_SCANS = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}


@contextmanager
def caught(engine: AsyncEngine) -> Iterator[list[Statement]]:
    """Every statement the engine sends meanwhile, with its parameters as sent."""
    statements: list[Statement] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)


async def indexes_used(db: Database, statement: Statement) -> set[str]:
    """The indexes the database's plan for the statement scans."""
    sql, parameters = statement
    async with db.connection() as connection:
        if db.is_sqlite:
            found = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)
            details = " ".join(str(row[-1]) for row in found)
            return set(re.findall(r"USING (?:COVERING )?INDEX (\w+)", details))
        found = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}", parameters)
        plan = found.scalar_one()
        return _pg_indexes(orjson.loads(plan) if isinstance(plan, str) else plan)


def _pg_indexes(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*(_pg_indexes(item) for item in node))
    if not isinstance(node, dict):
        return set()
    own = {node["Index Name"]} if node.get("Node Type") in _PG_SCANS else set()
    return own.union(*(_pg_indexes(child) for child in node.get("Plans", [node.get("Plan")])))


def touching(statements: list[Statement], *fragments: str) -> list[Statement]:
    found = [s for s in statements if all(fragment in s[0] for fragment in fragments)]
    assert found, f"no statement with {fragments}: {[s[0][:120] for s in statements]}"
    return found


async def page_statements(site: FleetSite, path: str, *fragments: str) -> list[Statement]:
    with caught(site.management.db.engine) as statements:
        response = await site.operator.get(path)
    assert response.status_code == 200, response.text[-500:]
    return touching(statements, *fragments)


async def test_a_connectors_running_transaction_is_found_in_the_open_ones(
    fleet_site: FleetSite,
) -> None:
    db = fleet_site.management.db
    with caught(db.engine) as statements:
        async with db.reading() as session:
            await transactions.running_on(session, "FLEET000001", 1)

    (statement,) = touching(statements, "FROM transactions")
    assert "ix_transactions_open" in await indexes_used(db, statement)


async def test_the_dashboard_and_the_connectors_read_only_the_open_transactions(
    fleet_site: FleetSite,
) -> None:
    for path in ("/", "/Home/Tiles", "/Home/Connector"):
        found = await page_statements(fleet_site, path, "FROM transactions", "stop_at")
        # Those that look for open ones; today's totals count them within an indexed period.
        for statement in [s for s in found if "stop_at IS NULL" in s[0].partition("WHERE")[2]]:
            used = await indexes_used(fleet_site.management.db, statement)
            open_ones = {
                "ix_transactions_open",
                "ix_transactions_open_id",
                "ix_transactions_stop_at",
                # A probe per reserved connector may read that connector's few
                # transactions from the index that holds stop_at (migration 0017).
                "ix_transactions_cp_connector",
            }
            assert used & open_ones, (path, statement)


async def test_the_payments_list_reads_the_newest_reservations_by_index(
    fleet_site: FleetSite,
) -> None:
    found = await page_statements(
        fleet_site, "/Home/Payments", "FROM payment_reservations", "created_at DESC"
    )
    for statement in found:
        used = await indexes_used(fleet_site.management.db, statement)
        assert "ix_reservation_created_at" in used, statement


async def test_the_message_log_pages_by_its_time_index(fleet_site: FleetSite) -> None:
    for path in ("/Home/MessageLog", "/Home/MessageLog?before=1700000000000000_1000000"):
        for statement in await page_statements(fleet_site, path, "FROM message_log"):
            used = await indexes_used(fleet_site.management.db, statement)
            assert "ix_message_log_time" in used, (path, statement)
