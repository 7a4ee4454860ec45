"""Time arithmetic in SQL, spelled for SQLite and for PostgreSQL.

Reports add up hundreds of thousands of sessions; doing the sums in the
database means the rows never travel to Python. The two databases share no
date function, so each expression here compiles to its own spelling. Times
are stored as naive UTC on both (see :class:`ocpp_core.db.types.UTCDateTime`),
so no time zone conversion is needed in SQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

# Julian day number of 1970-01-01T00:00Z: SQLite's julianday() counts from 4714 BC.
_UNIX_EPOCH_JULIAN_DAY = 2440587.5


class epoch_seconds(FunctionElement[float]):  # noqa: N801 -- named like the SQL functions
    """Seconds since 1970 of a stored time: a number both databases can subtract and compare."""

    type = Float()
    inherit_cache = True


class day_text(FunctionElement[str]):  # noqa: N801
    """``YYYY-MM-DD`` of a stored time: the UTC day it falls on."""

    type = String()
    inherit_cache = True


class month_text(FunctionElement[str]):  # noqa: N801
    """``YYYY-MM`` of a stored time: the UTC month it falls on."""

    type = String()
    inherit_cache = True


class greatest(FunctionElement[Any]):  # noqa: N801
    """The larger of two values (SQLite spells it ``max`` with two arguments)."""

    inherit_cache = True


class least(FunctionElement[Any]):  # noqa: N801
    """The smaller of two values (SQLite spells it ``min`` with two arguments)."""

    inherit_cache = True


# Each function's SQL per dialect; ``{}`` stands for its arguments.
_SPELLINGS: dict[type[FunctionElement[Any]], dict[str, str]] = {
    epoch_seconds: {
        "sqlite": f"((julianday({{}}) - {_UNIX_EPOCH_JULIAN_DAY}) * 86400.0)",
        "postgresql": "extract(epoch from {})",
    },
    day_text: {"sqlite": "strftime('%Y-%m-%d', {})", "postgresql": "to_char({}, 'YYYY-MM-DD')"},
    month_text: {"sqlite": "strftime('%Y-%m', {})", "postgresql": "to_char({}, 'YYYY-MM')"},
    greatest: {"sqlite": "max({})", "postgresql": "greatest({})"},
    least: {"sqlite": "min({})", "postgresql": "least({})"},
}


def _register(function: type[FunctionElement[Any]], dialect: str, spelling: str) -> None:
    def compile_(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
        return spelling.format(compiler.process(element.clauses, **kw))

    compiles(function, dialect)(compile_)


for _function, _by_dialect in _SPELLINGS.items():
    for _dialect, _spelling in _by_dialect.items():
        _register(_function, _dialect, _spelling)
