"""UTCDateTime on a real database: aware in, the same instant out, aware UTC, on both back-ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import cast

import pytest
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import StatementError

from ocpp_core.db.models import MessageLogEntry
from ocpp_core.db.session import Database

_table = cast(Table, MessageLogEntry.__table__)
_ROW = {"charge_point_id": "CP-T", "direction": "in", "action": "Heartbeat"}


@pytest.mark.parametrize(
    "sent",
    [
        datetime(2026, 12, 5, 23, 54, 37, 123456, tzinfo=UTC),
        datetime(2026, 12, 6, 1, 54, 37, tzinfo=timezone(timedelta(hours=2))),
    ],
    ids=["utc", "other-zone"],
)
async def test_an_aware_time_comes_back_as_the_same_instant_in_utc(
    db: Database, sent: datetime
) -> None:
    async with db.session() as session:
        await session.execute(insert(_table).values(logged_at=sent, **_ROW))
    async with db.session() as session:
        stored = (await session.execute(select(_table.c.logged_at))).scalar_one()
    assert stored == sent
    assert stored.tzinfo is UTC
    assert stored.utcoffset() == timedelta(0)


async def test_a_naive_time_is_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with db.session() as session:
            await session.execute(insert(_table).values(logged_at=datetime(2026, 12, 5), **_ROW))
