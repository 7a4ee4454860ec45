"""What the operator list pages share: long lists in pages, and prefix search.

A list that can hold a fleet's rows pages by key (:class:`Keyset`): each page
starts after the last row of the one before, so a page deep in a million rows
costs what the first does, where an OFFSET would read and skip every row before
it. A short list (a reservation's few states) may page by number (:class:`Pager`).

Search is by prefix, folded to lower case (:func:`ocpp_core.db.folded.starts_with`): as a range on
the folded column it is served by an index on that expression on SQLite and on
PostgreSQL alike (migration 0013), where ``ILIKE 'x%'`` would read every row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Query
from sqlalchemy import BigInteger, Integer, Row, Select, String, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from starlette.exceptions import HTTPException

from ocpp_core.management.admin_forms import query_string
from ocpp_core.params import MAX_DB_INT, MIN_DB_INT

_Row = TypeVar("_Row")
_Query = TypeVar("_Query", bound=Select[Any])

MAX_SEARCH_LENGTH = 100  # the longest id or name searched (charge point ids and names: 100)
MAX_KEY_LENGTH = 240  # a page key: a time, an id and at most one text of the above
SearchText = Annotated[str, Query(max_length=MAX_SEARCH_LENGTH)]
PageKey = Annotated[str, Query(max_length=MAX_KEY_LENGTH)]
AnySelect = Select[*tuple[Any, ...]]  # a query of any columns


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


# Keyset pages

Key = tuple[Any, ...]
_KEY = "page_key_"  # the key's columns, added to the rows of a page under these names
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class KeysetPage:
    rows: Sequence[Row[Any]]  # in the list's order
    previous: Key | None  # the key the page before ends at; None on the first page
    following: Key | None  # the key the page after starts after; None on the last page
    is_first: bool = False


@dataclass(frozen=True, slots=True)
class Keyset:
    """Pages of ``size`` rows in the order of ``columns``, whose last makes the order total.

    A page is asked for by a key (:meth:`read` and :meth:`write` turn it into the
    text a link carries) with ``before`` (rows whose key is lower) or ``after``:
    a descending list, newest first, finds its next page ``before`` the last row.
    """

    columns: tuple[InstrumentedAttribute[Any], ...]
    size: int
    descending: bool = False

    def __post_init__(self) -> None:
        texts = [c for c in self.columns if _kind(c) == _TEXT]
        assert len(texts) <= 1, "a page key holds at most one text: its parts are split at _"

    def read(self, text: str) -> Key | None:
        """The key a link carries, None for none; a key that is no key is a bad request."""
        if not text:
            return None
        key = _parse(text, [_kind(column) for column in self.columns])
        if key is None:
            raise HTTPException(400, "This page key is not one this list wrote.")
        return key

    def write(self, key: Key) -> str:
        return "_".join(_part(value) for value in key)

    def at(self, before: str, after: str) -> dict[str, Key | None]:
        """The page a link asks for, as :meth:`page` takes it (``**at``)."""
        return {"before": self.read(before), "after": self.read(after)}

    async def page(
        self,
        session: AsyncSession,
        query: AnySelect,
        *,
        before: Key | None = None,
        after: Key | None = None,
    ) -> KeysetPage:
        """The page just below ``before``, just above ``after``, or the first page."""
        query = query.add_columns(*(c.label(f"{_KEY}{n}") for n, c in enumerate(self.columns)))
        if before is not None or after is not None:
            found = await self._rows(session, self.statement(query, before=before, after=after))
            if (before is not None) == self.descending:  # on, in the list's order
                return self._paged(found, first=False)
            if len(found) > self.size:
                rows = found[: self.size][::-1]
                return KeysetPage(rows, self._key(rows[0]), self._key(rows[-1]))
        # The first page, also going back with less than a page left: a full page, not a stub.
        return self._paged(await self._rows(session, self.statement(query)), first=True)

    def statement(
        self, query: AnySelect, *, before: Key | None = None, after: Key | None = None
    ) -> AnySelect:
        """The rows of a page and one more, which tells that there is a page beyond.

        Going back (against the list's order) the rows come nearest first, reversed.
        """
        key, forward = tuple_(*self.columns), True
        if before is not None:
            query, forward = query.where(key < tuple_(*before)), self.descending
        elif after is not None:
            query, forward = query.where(key > tuple_(*after)), not self.descending
        down = self.descending == forward
        order = [column.desc() if down else column.asc() for column in self.columns]
        return query.order_by(*order).limit(self.size + 1)

    def links(self, found: KeysetPage | None, filters: Mapping[str, str]) -> dict[str, Any]:
        """The query strings of the first, previous and next pages (None: no such page)."""
        back, on = ("after", "before") if self.descending else ("before", "after")
        return {
            "first": None if found is None or found.is_first else query_string(filters),
            "previous": self._link(filters, back, found.previous if found else None),
            "following": self._link(filters, on, found.following if found else None),
        }

    def _link(self, filters: Mapping[str, str], name: str, key: Key | None) -> str | None:
        return None if key is None else query_string({**filters, name: self.write(key)})

    def _key(self, row: Row[Any]) -> Key:
        return tuple(getattr(row, f"{_KEY}{n}") for n in range(len(self.columns)))

    async def _rows(self, session: AsyncSession, statement: AnySelect) -> list[Row[Any]]:
        return list((await session.execute(statement)).all())

    def _paged(self, found: list[Row[Any]], *, first: bool) -> KeysetPage:
        rows = found[: self.size]
        return KeysetPage(
            rows,
            previous=None if first or not rows else self._key(rows[0]),
            following=self._key(rows[-1]) if len(found) > self.size else None,
            is_first=first,
        )


_TEXT, _INT4, _INT8, _TIME = "text", "int4", "int8", "time"
_NUMBERS = {
    _INT4: re.compile(r"-?[0-9]{1,10}"),
    _INT8: re.compile(r"-?[0-9]{1,19}"),
    _TIME: re.compile(r"[0-9]{1,17}"),  # microseconds since 1970: past the year 4000
}
_BOUNDS = {_INT4: (MIN_DB_INT, MAX_DB_INT), _INT8: (-(2**63), 2**63 - 1), _TIME: (0, 10**17)}


def _kind(column: InstrumentedAttribute[Any]) -> str:
    column_type = column.type
    if isinstance(column_type, BigInteger):
        return _INT8
    if isinstance(column_type, Integer):
        return _INT4
    return _TEXT if isinstance(column_type, String) else _TIME


def _part(value: object) -> str:
    if isinstance(value, datetime):
        return str((value - _EPOCH) // _MICROSECOND)
    return str(value)


def _parse(text: str, kinds: list[str]) -> Key | None:
    """The parts of a key: numbers have no _, so the one text is what lies between them."""
    parts = text.split("_")
    has_text = _TEXT in kinds
    if len(parts) < len(kinds) or (len(parts) > len(kinds) and not has_text):
        return None
    if has_text:
        at = kinds.index(_TEXT)
        end = len(parts) - (len(kinds) - at - 1)
        parts = [*parts[:at], "_".join(parts[at:end]), *parts[end:]]
    key = [_value(kind, part) for kind, part in zip(kinds, parts, strict=True)]
    return None if None in key else tuple(key)


def _value(kind: str, text: str) -> object:
    """One part of a key, None when it is out of its column's range."""
    if kind == _TEXT:
        return text
    if not _NUMBERS[kind].fullmatch(text):
        return None
    low, high = _BOUNDS[kind]
    number = int(text)
    if not low <= number <= high:
        return None
    return _EPOCH + number * _MICROSECOND if kind == _TIME else number
