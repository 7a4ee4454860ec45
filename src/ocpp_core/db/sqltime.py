"""Time arithmetic in SQL, spelled for SQLite and for PostgreSQL.

Reports add up hundreds of thousands of sessions; doing the sums in the
database means the rows never travel to Python. The two databases share no
date function, so each expression here compiles to its own spelling. Times
are stored as naive UTC on both (see :class:`ocpp_core.db.types.UTCDateTime`),
so no time zone conversion is needed in SQL.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Date, Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class day_of(FunctionElement[date]):  # noqa: N801 -- named like the SQL functions
    """The UTC day a stored time falls on."""

    type = Date()
    inherit_cache = True


class month_of(FunctionElement[date]):  # noqa: N801
    """The first day of the UTC month a stored time falls on."""

    type = Date()
    inherit_cache = True


class seconds_open(FunctionElement[float]):  # noqa: N801
    """The sum, over a group's rows where a condition holds, of seconds from a start to a stop.

    An aggregate: PostgreSQL adds the intervals and turns the total into seconds
    once, far cheaper than a conversion per row. The condition (the third
    argument) lets one pass over the rows sum other things of the rows it leaves out.
    """

    type = Float()
    inherit_cache = True


class greatest(FunctionElement[Any]):  # noqa: N801
    """The larger of two values (SQLite spells it ``max`` with two arguments)."""

    inherit_cache = True


class least(FunctionElement[Any]):  # noqa: N801
    """The smaller of two values (SQLite spells it ``min`` with two arguments)."""

    inherit_cache = True


# Each function's SQL per dialect; each ``{}`` stands for one argument, in order.
_SPELLINGS: dict[type[FunctionElement[Any]], dict[str, str]] = {
    # A cast and date_trunc cost PostgreSQL far less per row than to_char; SQLite's
    # text is what its Date type reads back as a date.
    day_of: {"sqlite": "date({})", "postgresql": "CAST({} AS DATE)"},
    month_of: {
        "sqlite": "strftime('%Y-%m-01', {})",
        "postgresql": "CAST(date_trunc('month', {}) AS DATE)",
    },
    seconds_open: {
        "sqlite": "(sum(julianday({1}) - julianday({0})) FILTER (WHERE {2}) * 86400.0)",
        "postgresql": "extract(epoch from sum({1} - {0}) FILTER (WHERE {2}))",
    },
    greatest: {"sqlite": "max({}, {})", "postgresql": "greatest({}, {})"},
    least: {"sqlite": "min({}, {})", "postgresql": "least({}, {})"},
}


def _register(function: type[FunctionElement[Any]], dialect: str, spelling: str) -> None:
    def compile_(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
        return spelling.format(*(compiler.process(clause, **kw) for clause in element.clauses))

    compiles(function, dialect)(compile_)


for _function, _by_dialect in _SPELLINGS.items():
    for _dialect, _spelling in _by_dialect.items():
        _register(_function, _dialect, _spelling)
