"""What the operator list pages share: the stations to filter by, and long lists in pages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

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
