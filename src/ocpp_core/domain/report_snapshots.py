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
- a missing one is computed by the one process that took its lease (a
  placeholder row, inserted once), and kept. The view that started it waits
  ``first_wait`` for it: a small fleet's figures are shown at once, while a
  year of a large one (seconds) is not a page held open that long; the page
  says they are being computed and asks again until they are there. A view
  of the same period meanwhile, on any node, finds the lease and waits too,
  rather than computing them a second time.

Every period has the same ``max_age``, old ones too: a late stop, a capture or
a refund can change any period's figures. ``max_age`` 0 computes every view.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import CursorResult, delete, or_, select, update

from ocpp_core.db.dialect import insert_ignoring_conflicts, upsert
from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.db.models import ReportSnapshot
from ocpp_core.db.session import Database
from ocpp_core.domain.report_figures import Codec
from ocpp_core.domain.reporting import Period

T = TypeVar("T")

log = logging.getLogger(__name__)

KEEP = 1_000  # snapshots kept: an operator trying many periods must not grow the table unbounded
LEASE = timedelta(minutes=5)  # a refresh that died is taken over by a view after this
FIRST_WAIT = timedelta(milliseconds=200)  # within the operator pages' 300 ms with the page itself
PENDING = ""  # the data of a snapshot whose first computation holds the lease


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

    def __init__(
        self,
        db: Database,
        max_age: timedelta,
        keep: int = KEEP,
        first_wait: timedelta = FIRST_WAIT,
    ) -> None:
        self._db = db
        self.max_age = max_age
        self.keep = keep
        self.first_wait = first_wait
        self._refreshing: set[asyncio.Task[Any]] = set()

    @property
    def refreshing(self) -> tuple[asyncio.Task[Any], ...]:
        return tuple(self._refreshing)

    async def figures(
        self, codec: Codec[T], period: Period, compute: Callable[[], Awaitable[T]], now: datetime
    ) -> Figures[T] | None:
        """The period's figures of this kind, or None while they are first computed.

        By the rules of the module docstring.
        """
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
        stored = None if row is None or row.data == PENDING else decoded(codec, row.data)
        if row is None or stored is None:
            if row is None:
                mine = await self._place(key, codec, now)
            else:
                mine = await self._claim(key, row.computed_at, now)
            if not mine:
                return None  # another view, on this node or another, is computing them
            first = self._start(self._first(key, codec, compute, now))
            done, _ = await asyncio.wait({first}, timeout=self.first_wait.total_seconds())
            return Figures(first.result(), now) if done else None
        if is_stale(row.computed_at, now, self.max_age) and await self._claim(
            key, row.computed_at, now
        ):
            self._start(self._refresh(key, codec, compute, now))
        return Figures(stored, row.computed_at)

    async def _place(self, key: str, codec: Codec[T], now: datetime) -> bool:
        """Insert the placeholder of a missing snapshot, with its lease: true for one caller."""
        placeholder = {
            "key": key,
            "kind": codec.kind,
            "computed_at": now,
            "data": PENDING,
            "refreshing_until": now + LEASE,
        }
        async with self._db.session() as session:
            placed = await insert_ignoring_conflicts(session, ReportSnapshot, [placeholder]) == 1
            if placed:
                await session.execute(self._trimmed())
        return placed

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

    def _start(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(work)
        self._refreshing.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._refreshing.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a failure was logged where it happened

    async def _first(
        self, key: str, codec: Codec[T], compute: Callable[[], Awaitable[T]], now: datetime
    ) -> T:
        """Compute and store; on failure give the lease back, so that the next view retries."""
        try:
            value = await compute()
            await self._store(key, codec, value, now)
        except BaseException as error:
            if not isinstance(error, DatabaseUnavailable | asyncio.CancelledError):
                log.exception(
                    "computing the %s figures failed; a later view tries again", codec.kind
                )
            with contextlib.suppress(Exception):
                await self._release(key)
            raise
        return value

    async def _release(self, key: str) -> None:
        async with self._db.session() as session:
            await session.execute(
                update(ReportSnapshot)
                .where(ReportSnapshot.key == key)
                .values(refreshing_until=None)
            )

    async def _refresh(
        self, key: str, codec: Codec[T], compute: Callable[[], Awaitable[T]], now: datetime
    ) -> None:
        """Recompute and store; on failure the old figures stay, and a view retries later."""
        try:
            await self._store(key, codec, await compute(), now)
        except DatabaseUnavailable:
            pass  # the database's health says so; the old figures stay, a later view retries
        except Exception:
            log.exception("refreshing the %s figures failed; the stored ones stay", codec.kind)

    async def _store(self, key: str, codec: Codec[T], value: T, now: datetime) -> None:
        """Replace the snapshot (its placeholder, or the figures before) and end its lease."""
        data = json.dumps(codec.encode(value), separators=(",", ":"))
        values = {"kind": codec.kind, "computed_at": now, "data": data, "refreshing_until": None}
        async with self._db.session() as session:
            await upsert(session, ReportSnapshot, {"key": key}, values)

    def _trimmed(self) -> Any:
        """The oldest snapshots beyond ``keep``: a new placeholder pushes them out."""
        newest_dropped = (
            select(ReportSnapshot.computed_at)
            .order_by(ReportSnapshot.computed_at.desc())
            .offset(self.keep)
            .limit(1)
            .scalar_subquery()
        )
        return delete(ReportSnapshot).where(ReportSnapshot.computed_at <= newest_dropped)

    async def settle(self) -> None:
        """Wait for the computations this process started, as the warmer does between periods."""
        await asyncio.gather(*self._refreshing, return_exceptions=True)

    async def close(self) -> None:
        """Stop the refreshes still running, before the database they write to is closed."""
        for task in self._refreshing:
            task.cancel()
        await asyncio.gather(*self._refreshing, return_exceptions=True)
