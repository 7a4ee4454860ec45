"""A period's figures computed at most every ``max_age``, and shown with the time they were.

A year of a large fleet is hundreds of thousands of sessions: summing them
takes the database a second or more, and triggers keeping running totals
were tried and cost more than they saved (docs/benchmarks.md). So the charts
and the charge report keep what they computed, per kind and period, in
``report_snapshots``, and:

- a snapshot younger than ``max_age`` is shown as it is;
- an older one is shown too, at once, and one process recomputes it in the
  background (stale while revalidating): the one whose conditional UPDATE
  took the row's lease, so a cluster of nodes recomputes it once;
- a missing one is computed while the operator waits, and kept.

Every period has the same ``max_age``, old ones too: a late stop, a capture or
a refund can change any period's figures. ``max_age`` 0 computes every view.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import CursorResult, delete, or_, select, update

from ocpp_core.db.dialect import upsert
from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.db.models import ReportSnapshot
from ocpp_core.db.session import Database
from ocpp_core.domain.report_figures import Codec
from ocpp_core.domain.reporting import Period

T = TypeVar("T")

log = logging.getLogger(__name__)

KEEP = 1_000  # snapshots kept: an operator trying many periods must not grow the table unbounded
LEASE = timedelta(minutes=5)  # a refresh that died is taken over by a view after this


@dataclass(frozen=True, slots=True)
class Figures(Generic[T]):
    value: T
    computed_at: datetime


def snapshot_key(kind: str, period: Period) -> str:
    """A digest, so that a long charge point id typed by an operator keeps the key short."""
    parts = [kind, period.since.isoformat(), period.until.isoformat(), period.charge_point_id]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def is_stale(computed_at: datetime, now: datetime, max_age: timedelta) -> bool:
    return now - computed_at >= max_age


def decoded(codec: Codec[T], data: str) -> T | None:
    """The stored figures, or None when they can't be read (another release's format)."""
    try:
        return codec.decode(json.loads(data))
    except (ValueError, KeyError, TypeError):
        log.warning("a stored %s snapshot could not be read; computing it again", codec.kind)
        return None


class Snapshots:
    """The snapshots of one process, and its background refreshes (kept, so none is lost)."""

    def __init__(self, db: Database, max_age: timedelta, keep: int = KEEP) -> None:
        self._db = db
        self.max_age = max_age
        self.keep = keep
        self._refreshing: set[asyncio.Task[None]] = set()

    @property
    def refreshing(self) -> tuple[asyncio.Task[None], ...]:
        return tuple(self._refreshing)

    async def figures(
        self, codec: Codec[T], period: Period, compute: Callable[[], Awaitable[T]], now: datetime
    ) -> Figures[T]:
        """The period's figures of this kind, by the rules of the module docstring."""
        if self.max_age <= timedelta(0):
            return Figures(await compute(), now)
        key = snapshot_key(codec.kind, period)
        async with self._db.reading() as session:
            row = (
                await session.execute(
                    select(ReportSnapshot.computed_at, ReportSnapshot.data).where(
                        ReportSnapshot.key == key
                    )
                )
            ).first()
        stored = None if row is None else decoded(codec, row.data)
        if row is None or stored is None:
            value = await compute()
            await self._store(key, codec, value, now, trim=row is None)
            return Figures(value, now)
        if is_stale(row.computed_at, now, self.max_age) and await self._claim(
            key, row.computed_at, now
        ):
            self._start_refresh(key, codec, compute, now)
        return Figures(stored, row.computed_at)

    async def _claim(self, key: str, seen: datetime, now: datetime) -> bool:
        """Take the lease of the snapshot as read: true for one caller on any node."""
        async with self._db.session() as session:
            result = await session.execute(
                update(ReportSnapshot)
                .where(
                    ReportSnapshot.key == key,
                    ReportSnapshot.computed_at == seen,
                    or_(
                        ReportSnapshot.refreshing_until.is_(None),
                        ReportSnapshot.refreshing_until <= now,
                    ),
                )
                .values(refreshing_until=now + LEASE)
            )
        return cast(CursorResult[Any], result).rowcount == 1

    def _start_refresh(
        self, key: str, codec: Codec[T], compute: Callable[[], Awaitable[T]], now: datetime
    ) -> None:
        task = asyncio.create_task(self._refresh(key, codec, compute, now))
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    async def _refresh(
        self, key: str, codec: Codec[T], compute: Callable[[], Awaitable[T]], now: datetime
    ) -> None:
        """Recompute and store; on failure the old figures stay, and a view retries later."""
        try:
            await self._store(key, codec, await compute(), now, trim=False)
        except DatabaseUnavailable:
            pass  # the database's health says so; the old figures stay, a later view retries
        except Exception:
            log.exception("refreshing the %s figures failed; the stored ones stay", codec.kind)

    async def _store(
        self, key: str, codec: Codec[T], value: T, now: datetime, *, trim: bool
    ) -> None:
        """Insert or replace the snapshot; a new one pushes the oldest out beyond ``keep``."""
        data = json.dumps(codec.encode(value), separators=(",", ":"))
        values = {"kind": codec.kind, "computed_at": now, "data": data, "refreshing_until": None}
        async with self._db.session() as session:
            await upsert(session, ReportSnapshot, {"key": key}, values)
            if trim:
                await session.execute(self._trimmed())

    def _trimmed(self) -> Any:
        newest_dropped = (
            select(ReportSnapshot.computed_at)
            .order_by(ReportSnapshot.computed_at.desc())
            .offset(self.keep)
            .limit(1)
            .scalar_subquery()
        )
        return delete(ReportSnapshot).where(ReportSnapshot.computed_at <= newest_dropped)

    async def close(self) -> None:
        """Stop the refreshes still running, before the database they write to is closed."""
        for task in self._refreshing:
            task.cancel()
        await asyncio.gather(*self._refreshing, return_exceptions=True)
