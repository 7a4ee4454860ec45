"""Batched look-ups against a real database: one query for the keys asked together."""

from __future__ import annotations

import asyncio

from sqlalchemy import event

from builders import add_charge_point
from ocpp_core.db.lookup import BatchedLookup
from ocpp_core.db.models import ChargePoint
from ocpp_core.db.session import Database
from ocpp_core.domain import chargepoints


def charge_point_lookup(db: Database) -> BatchedLookup[str, ChargePoint]:
    async def fetch(ids: list[str]) -> dict[str, ChargePoint]:
        async with db.reading() as session:
            return await chargepoints.find_many(session, ids)

    return BatchedLookup(fetch)


async def test_keys_asked_together_share_one_query(db: Database) -> None:
    for charge_point_id in ("CP1", "CP2", "CP3"):
        await add_charge_point(db, charge_point_id, name=f"name of {charge_point_id}")
    queries: list[str] = []
    event.listen(
        db.engine.sync_engine,
        "before_cursor_execute",
        lambda *args: queries.append(args[2]) if "FROM charge_points" in args[2] else None,
    )
    lookup = charge_point_lookup(db)
    asked = ["CP1", "CP2", "UNKNOWN", "CP1", "CP3"]
    found = await asyncio.gather(*(lookup.get(key) for key in asked))
    assert [row.name if row else None for row in found] == [
        "name of CP1",
        "name of CP2",
        None,
        "name of CP1",
        "name of CP3",
    ]
    assert len(queries) == 1
    assert await lookup.get("CP2") is not None  # a later question gets a query of its own
    assert len(queries) == 2


async def test_a_failed_query_fails_every_question_it_held() -> None:
    async def fetch(keys: list[str]) -> dict[str, str]:
        raise ConnectionError("database unreachable")

    lookup: BatchedLookup[str, str] = BatchedLookup(fetch)
    outcomes = await asyncio.gather(lookup.get("a"), lookup.get("b"), return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [ConnectionError, ConnectionError]
