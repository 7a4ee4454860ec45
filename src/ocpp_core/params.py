"""Integers taken from URLs and forms, bounded by the columns they are looked up in.

Ids (connectors, EVSEs, transactions, report requests) are stored in ``Integer``
columns, PostgreSQL's int4 (the message log's rows in int8, :data:`DbBigInt`). A
bigger number names no row, and binding it fails (an OverflowError on SQLite, a
DataError on PostgreSQL), so every route of both apps takes such numbers as
:data:`DbInt` and refuses the rest as a bad request.
"""

from __future__ import annotations

import re
from typing import Annotated

from annotated_types import Interval

MIN_DB_INT = -(2**31)
MAX_DB_INT = 2**31 - 1

DbInt = Annotated[int, Interval(ge=MIN_DB_INT, le=MAX_DB_INT)]
# The few ``BigInteger`` ids (the message log's rows) are int8.
DbBigInt = Annotated[int, Interval(ge=-(2**63), le=2**63 - 1)]

# ASCII digits only: str.isdigit() also passes "²" and "٣", which int() refuses or reads.
_DIGITS = re.compile(r"[0-9]{1,10}")


def parse_db_int(text: str) -> int | None:
    """A non-negative :data:`DbInt` typed as text (a form field, a path part), or None."""
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_DB_INT else None
