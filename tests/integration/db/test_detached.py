"""One row read and written back by the driver: what the block changed, and only then."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import bindparam, select

from builders import NOW
from ocpp_core.db.detached import Rows
from ocpp_core.db.models import StripeWebhookEvent
from ocpp_core.db.session import Database

_EVENTS = Rows(StripeWebhookEvent)
_BY_ID = _EVENTS.query(
    select(StripeWebhookEvent, StripeWebhookEvent.type == "checkout.session.completed").where(
        StripeWebhookEvent.id == bindparam("id")
    )
)


def event(event_id: str) -> StripeWebhookEvent:
    return StripeWebhookEvent(id=event_id, type="checkout.session.completed", processed_at=NOW)


async def stored(db: Database, event_id: str) -> tuple[str | None, object] | None:
    async with db.reading() as session:
        found = await session.get(StripeWebhookEvent, event_id)
        return None if found is None else (found.reservation_id, found.processed_at)


async def test_the_block_writes_what_it_changed_and_the_row_reads_as_the_sessions(
    db: Database,
) -> None:
    async with db.session() as session:
        await _EVENTS.insert(session, event("evt_1"))
        await _EVENTS.insert(session, event("evt_2"))
    later = NOW + timedelta(seconds=5)
    async with db.session() as session, _EVENTS.editing(session, _BY_ID, {"id": "evt_1"}) as found:
        assert found is not None
        assert found.extra == (True,)  # the query's other column
        assert found.row.processed_at == NOW  # aware UTC, as the session gives it
        assert found.changes() == {}
        found.row.reservation_id = "reservation-1"
        found.row.processed_at = later
        assert found.changes() == {"reservation_id": "reservation-1", "processed_at": later}
    assert await stored(db, "evt_1") == ("reservation-1", later)
    assert await stored(db, "evt_2") == (None, NOW)


async def change_then_fail(db: Database) -> None:
    async with db.session() as session, _EVENTS.editing(session, _BY_ID, {"id": "evt_1"}) as found:
        assert found is not None
        found.row.reservation_id = "reservation-1"
        raise RuntimeError("the unit of work failed")


async def test_a_block_that_fails_writes_nothing(db: Database) -> None:
    async with db.session() as session:
        await _EVENTS.insert(session, event("evt_1"))
    with pytest.raises(RuntimeError, match="unit of work"):
        await change_then_fail(db)
    assert await stored(db, "evt_1") == (None, NOW)


async def test_no_row_found_is_none_and_writes_nothing(db: Database) -> None:
    async with db.session() as session, _EVENTS.editing(session, _BY_ID, {"id": "evt_9"}) as found:
        assert found is None
    assert await stored(db, "evt_9") is None


def test_a_query_that_does_not_select_the_model_first_is_refused() -> None:
    with pytest.raises(ValueError, match="columns first"):
        _EVENTS.query(select(StripeWebhookEvent.type, StripeWebhookEvent))
