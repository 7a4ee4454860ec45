"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL.

A column added to a model without a migration (or the other way round) would work in
tests that create tables from the models and fail on an operator's upgraded database;
comparing the migrated database with the models catches it.
"""

from __future__ import annotations

import warnings
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, text
from sqlalchemy.engine import Connection

from builders import NOW
from ocpp_core.db.migrate import alembic_config, bring_up_to_date, upgrade
from ocpp_core.db.models import (
    Base,
    ChargePoint,
    MessageLogEntry,
    PaymentReservation,
    Transaction,
)
from ocpp_core.db.session import Database, create_engine


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    with warnings.catch_warnings():
        # SQLite's indexes on expressions (the lists' search) are not reflected, so not
        # compared; PostgreSQL's are. The search tests show SQLite's are there and used.
        warnings.filterwarnings("ignore", ".*expression-based index")
        return list(compare_metadata(context, Base.metadata))


async def test_the_migrated_schema_matches_the_models(migrated: str) -> None:
    engine = create_engine(migrated)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []


async def test_paid_sessions_charging_during_the_upgrade_keep_their_energy_cap(
    empty_database_url: str,
) -> None:
    """0006 moves the cap onto the transaction; a session already charging must keep it."""
    database_url = empty_database_url
    await upgrade(database_url, "0005")
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(ChargePoint), [{"id": "CP1", "created_at": NOW}])
            await connection.execute(
                insert(Transaction),
                [
                    {
                        "id": tx_id,
                        "charge_point_id": "CP1",
                        "connector_id": tx_id,
                        "start_tag": "TAG",
                        "start_at": NOW,
                        "meter_start_wh": 0,
                        "start_result": "Accepted",
                        "stop_at": stopped,
                    }
                    for tx_id, stopped in ((1, None), (2, None), (3, NOW))
                ],
            )
            await connection.execute(
                insert(PaymentReservation),
                [
                    reservation(1, "Charging", 20_000),  # capped and charging: keeps its cap
                    reservation(2, "Charging", 0),  # no cap
                    reservation(3, "Charging", 20_000),  # transaction over: nothing to stop
                ],
            )
        await upgrade(database_url)
        async with engine.connect() as connection:
            limits = await connection.execute(
                text("SELECT id, energy_limit_wh FROM transactions ORDER BY id")
            )
            assert limits.all() == [(1, 20_000), (2, None), (3, None)]
    finally:
        await engine.dispose()


async def test_201_sessions_begun_without_a_register_during_the_upgrade_take_their_first(
    empty_database_url: str,
) -> None:
    """0012: a running 2.0.1 transaction stored with -1 (no register yet) waits for one."""
    database_url = empty_database_url
    await upgrade(database_url, "0006")
    engine = create_engine(database_url)
    rows = [
        (1, "tx-a", -1, None),  # 2.0.1, running, no register yet: takes its first
        (2, "tx-b", -1, NOW),  # over: stays as it was reviewed
        (3, None, -1, None),  # 1.6 said -1 itself: a broken meter, stays under review
        (4, "tx-c", 5_000, None),
    ]
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(ChargePoint), [{"id": "CP1", "created_at": NOW}])
            await connection.execute(
                insert(Transaction),
                [
                    {
                        "id": tx_id,
                        "uid": uid,
                        "charge_point_id": "CP1",
                        "connector_id": tx_id,
                        "start_tag": "TAG",
                        "start_at": NOW,
                        "meter_start_wh": meter_start_wh,
                        "start_result": "Accepted",
                        "stop_at": stopped,
                    }
                    for tx_id, uid, meter_start_wh, stopped in rows
                ],
            )
        await upgrade(database_url)
        async with engine.connect() as connection:
            sources = await connection.execute(
                text("SELECT id, meter_start_source FROM transactions ORDER BY id")
            )
            assert sources.all() == [
                (1, "Missing"),
                (2, "Reported"),
                (3, "Reported"),
                (4, "Reported"),
            ]
    finally:
        await engine.dispose()


def reservation(transaction_id: int, status: str, max_energy_wh: int) -> dict[str, Any]:
    return {
        "id": f"res-{transaction_id}",
        "charge_point_id": "CP1",
        "connector_id": transaction_id,  # one active reservation per connector
        "charge_tag_id": f"PAY{transaction_id}",
        "ocpp_id_tag": f"PAY{transaction_id}",
        "free": False,
        "status": status,
        "price_kwh_millicents": 40_000,
        "session_fee_cents": 0,
        "usage_fee_minute_millicents": 0,
        "usage_grace_minutes": 0,
        "usage_max_minutes": 0,
        "usage_after_charging": False,
        "max_energy_wh": max_energy_wh,
        "currency": "eur",
        "hold_cents": 900,
        "created_at": NOW,
        "updated_at": NOW,
        "awaiting_plug": False,
        "transaction_id": transaction_id,
        "idle_seconds": 0,
    }


async def test_the_message_log_keeps_its_rows_and_gets_its_time_index(
    empty_database_url: str,
) -> None:
    """0010 adds the answer column and (concurrently, on PostgreSQL) the index on time."""
    database_url = empty_database_url
    await upgrade(database_url, "0006")
    engine = create_engine(database_url)
    row = {"logged_at": NOW, "charge_point_id": "CP1", "direction": "in", "action": "Authorize"}
    try:
        async with engine.begin() as connection:
            # Only the columns 0006 has: the model's insert names just the keys given.
            await connection.execute(insert(MessageLogEntry), [row])
        await upgrade(database_url)
        async with engine.connect() as connection:
            kept = await connection.execute(text("SELECT action, answer FROM message_log"))
            assert kept.all() == [("Authorize", None)]
            indexes = await connection.run_sync(
                lambda sync: inspect(sync).get_indexes("message_log")
            )
            assert {"name": "ix_message_log_time", "columns": ["logged_at", "id"]} in [
                {"name": index["name"], "columns": index["column_names"]} for index in indexes
            ]
    finally:
        await engine.dispose()


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def _version(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return list(await connection.scalars(text("SELECT version_num FROM alembic_version")))
    finally:
        await engine.dispose()


async def test_start_up_migrates_a_new_database_and_one_behind_and_keeps_one_at_the_head(
    empty_database_url: str,
) -> None:
    db = Database(empty_database_url)
    try:
        await bring_up_to_date(db, empty_database_url)  # new: no version table
        head = await _version(empty_database_url)
        assert head == [_head()]

        await bring_up_to_date(db, empty_database_url)  # at the head: nothing to do
        assert await _version(empty_database_url) == head
    finally:
        await db.close()


async def test_start_up_migrates_a_database_a_migration_behind(empty_database_url: str) -> None:
    await upgrade(empty_database_url, "0023")
    db = Database(empty_database_url)
    try:
        await bring_up_to_date(db, empty_database_url)
    finally:
        await db.close()
    assert await _version(empty_database_url) == [_head()]
    engine = create_engine(empty_database_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
    finally:
        await engine.dispose()
    assert "report_snapshots" in tables  # 0024's
