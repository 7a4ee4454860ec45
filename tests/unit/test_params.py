"""Numbers typed as text: ASCII digits within the Integer columns, nothing else."""

from __future__ import annotations

import pytest

from ocpp_core.params import MAX_DB_INT, parse_db_int


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("1", 1), ("007", 7), (str(MAX_DB_INT), MAX_DB_INT)],
)
def test_digits_within_the_column_are_read(text: str, value: int) -> None:
    assert parse_db_int(text) == value


@pytest.mark.parametrize(
    "text",
    ["", " 1", "1 ", "-1", "+1", "1_000", "1.0", "²", "٣", str(MAX_DB_INT + 1), "9" * 5000],
)
def test_anything_else_is_none(text: str) -> None:
    assert parse_db_int(text) is None
