"""What the operator list pages share: the stations to filter by, and long lists in pages.

Most lists page by number (:class:`Pager`). A list that grows without bound, like
the message log, pages by key instead (:class:`Keyset`): each page starts after
the last row of the one before, so a page deep in millions of rows costs what
the first does, where an OFFSET would read and skip every row before it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Row, Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ocpp_core.db.models import ChargePoint
from ocpp_core.management.admin_forms import query_string

_Row = TypeVar("_Row")
_Query = TypeVar("_Query", bound=Select[Any])


async def station_ids(session: AsyncSession) -> Sequence[str]:
    """Every charge point id, in order: the choices of a station filter."""
    return (await session.scalars(select(ChargePoint.id).order_by(ChargePoint.id))).all()


@dataclass(frozen=True, slots=True)
class Pager:
    """Page ``no`` (from 1) of a list shown ``size`` rows at a time, newest first."""

    no: int
    size: int

    @classmethod
    def at(cls, page_no: int, size: int, *, last: int) -> Pager:
        """The page asked for, kept between the first and ``last``."""
        return cls(max(1, min(page_no, last)), size)

    def window(self, query: _Query) -> _Query:
        """This page's rows and one more: the extra row tells that an older page exists."""
        return query.offset((self.no - 1) * self.size).limit(self.size + 1)

    def shown(self, found: Sequence[_Row]) -> Sequence[_Row]:
        """The rows of this page, without the extra one."""
        return found[: self.size]

    def links(self, found: Sequence[object], filters: Mapping[str, str]) -> dict[str, Any]:
        """The page number and the query strings of the newer and older pages (None: no page)."""
        has_older = len(found) > self.size
        return {
            "page_no": self.no,
            "newer": query_string({**filters, "page_no": self.no - 1}) if self.no > 1 else None,
            "older": query_string({**filters, "page_no": self.no + 1}) if has_older else None,
        }


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Microseconds since 1970 (17 digits reach past the year 4000) and a row id (fits 63 bits).
CURSOR_PATTERN = r"^\d{1,17}_\d{1,18}$"
_CURSOR = re.compile(CURSOR_PATTERN)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page begins or ends: a row's time and id (the id orders rows of one time)."""

    at: datetime
    id: int

    @classmethod
    def read(cls, text: str) -> Cursor | None:
        """The cursor a link carries (see :data:`CURSOR_PATTERN`), or None for none."""
        if not _CURSOR.match(text):
            return None
        micros, row_id = text.split("_")
        return cls(_EPOCH + int(micros) * _MICROSECOND, int(row_id))

    def __str__(self) -> str:
        return f"{(self.at - _EPOCH) // _MICROSECOND}_{self.id}"


@dataclass(frozen=True, slots=True)
class KeysetPage:
    rows: Sequence[Row[Any]]  # newest first
    newer: Cursor | None  # where the newer page begins; None on the newest
    older: Cursor | None  # where the older page begins; None on the oldest
    is_newest: bool = False


@dataclass(frozen=True, slots=True)
class Keyset:
    """Pages of ``size`` rows, newest first by a time column and then the id."""

    time: InstrumentedAttribute[datetime]
    id: InstrumentedAttribute[int]
    size: int

    async def page(
        self,
        session: AsyncSession,
        query: Select[Any],
        *,
        before: Cursor | None = None,
        after: Cursor | None = None,
    ) -> KeysetPage:
        """The page older than ``before``, newer than ``after``, or the newest."""
        if before is not None:
            found = await self._rows(session, query.where(self._key < self._at(before)), desc=True)
            return self._paged(found, newest=False)
        if after is not None:
            found = await self._rows(session, query.where(self._key > self._at(after)), desc=False)
            if len(found) > self.size:
                rows = found[: self.size][::-1]
                return KeysetPage(rows, self._cursor(rows[0]), self._cursor(rows[-1]))
        # The newest page, also for "newer" with less than a page left: a full page, not a stub.
        return self._paged(await self._rows(session, query, desc=True), newest=True)

    @property
    def _key(self) -> Any:
        return tuple_(self.time, self.id)

    def _at(self, cursor: Cursor) -> Any:
        return tuple_(cursor.at, cursor.id)

    def _cursor(self, row: Row[Any]) -> Cursor:
        return Cursor(getattr(row, self.time.key), getattr(row, self.id.key))

    async def _rows(
        self, session: AsyncSession, query: Select[Any], *, desc: bool
    ) -> list[Row[Any]]:
        """A page and one row more: the extra row tells that there is a page beyond."""
        order = (self.time.desc(), self.id.desc()) if desc else (self.time, self.id)
        return list((await session.execute(query.order_by(*order).limit(self.size + 1))).all())

    def _paged(self, found: list[Row[Any]], *, newest: bool) -> KeysetPage:
        rows = found[: self.size]
        return KeysetPage(
            rows,
            newer=None if newest or not rows else self._cursor(rows[0]),
            older=self._cursor(rows[-1]) if len(found) > self.size else None,
            is_newest=newest,
        )
