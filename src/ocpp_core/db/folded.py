"""Text folded to lower case, searched by prefix through an index on SQLite and PostgreSQL.

A case-insensitive prefix search is a range on the folded text: ``lower(id) >= 'ab'
AND lower(id) < 'ac'``, which an index on ``lower(id)`` serves. SQLite compares
text code point by code point, so the range is exactly the prefix. PostgreSQL
compares in the database's collation, where a range of a linguistic collation is
no prefix (it sorts "a-b" among "ab…"), so there the index is built with the
``text_pattern_ops`` operator class and the range uses its operators (``~>=~``,
``~<~``), which compare code points too. Unlike ``LIKE 'ab%'`` the range holds
its bounds in parameters, so a prepared statement's generic plan still uses the
index.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Index, String, TextClause, func, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_OPERATOR_CLASS = "text_pattern_ops"


def folded_index(name: str, column: str) -> Index:
    """The index that serves :func:`starts_with` on ``column`` (a name in the table)."""
    expression = func.lower(TextClause(column)).label(f"{column}_folded")
    return Index(name, expression, postgresql_ops={f"{column}_folded": _OPERATOR_CLASS})


class _prefixed(FunctionElement[bool]):  # noqa: N801 - a construct, like SQLAlchemy's own
    """``lower(text)`` between two bounds: from the first (included) to the second."""

    type = Boolean()
    name = "prefixed"
    inherit_cache = True
    # A comparison already: without this, SQLite (no boolean type) would be handed
    # "(...) = 1", which no index serves.
    _is_implicitly_boolean = True


@compiles(_prefixed)
def _prefixed_sqlite(element: _prefixed, compiler: SQLCompiler, **kw: Any) -> str:
    text, low, high = (compiler.process(part, **kw) for part in element.clauses)
    return f"({text} >= {low} AND {text} < {high})"


@compiles(_prefixed, "postgresql")
def _prefixed_postgresql(element: _prefixed, compiler: SQLCompiler, **kw: Any) -> str:
    text, low, high = (compiler.process(part, **kw) for part in element.clauses)
    return f"({text} ~>=~ {low} AND {text} ~<~ {high})"


def starts_with(column: Any, prefix: str) -> _prefixed:
    """``column`` begins with ``prefix`` (not empty), either case of the letters A-Z.

    SQLite's ``lower`` folds only A-Z, so the prefix is folded the same way: other
    letters are found as typed, on either database.
    """
    low = prefix.translate(_ASCII_LOWER)
    high = low[:-1] + chr(min(ord(low[-1]) + 1, 0x10FFFF))
    return _prefixed(func.lower(column), literal(low, String()), literal(high, String()))
