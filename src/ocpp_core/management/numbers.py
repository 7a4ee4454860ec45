"""Numbers on the pages, written the way the page's language writes them.

Amounts are exact decimals from integer cents, millicents and watt-hours, never
floats, so a price reads the same in every language but for its separator. The
decimals a value shows are the ones English shows, and nothing is grouped
("1234.50", not "1,234.50"), so the English pages read as they always have.
Exports don't come here: spreadsheets and scripts read them, not people.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_decimal

from ocpp_core.domain.pricing import MILLICENTS_PER_UNIT, WH_PER_KWH, money_value
from ocpp_core.management import i18n

_CENT = Decimal("0.01")


def number(value: Decimal) -> str:
    """The value with exactly the decimals it carries, in the request's language."""
    places = max(0, -int(value.as_tuple().exponent))
    pattern = "0." + "0" * places if places else "0"
    return format_decimal(value, format=pattern, locale=i18n.current().code, group_separator=False)


def money(minor_units: Decimal | int, currency: str) -> str:
    """``1234`` cents → ``"12.34 EUR"``, ``"12,34 EUR"`` in German: the code is unambiguous."""
    return f"{number(money_value(minor_units))} {currency.upper()}"


def rate(millicents: int, currency: str) -> str:
    """A rate with the decimals it needs and at least two: 35_500 → ``0.355 EUR``."""
    units = Decimal(millicents) / MILLICENTS_PER_UNIT
    cents = units.quantize(_CENT)
    return f"{number(units if units != cents else cents)} {currency.upper()}"


def kwh(wh: int) -> str:
    """Energy in kWh without trailing zeros: 20_000 → ``20``, 12_500 → ``12.5``."""
    value = (Decimal(wh) / WH_PER_KWH).normalize()
    return number(value.quantize(Decimal(1)) if value == value.to_integral_value() else value)


def thousandths(milli_units: int, places: int) -> str:
    """Wh as kWh, W as kW, to a fixed number of places: ``thousandths(12_345, 2)`` → ``12.35``."""
    return fixed(Decimal(milli_units) / 1000, places)


def fixed(value: Decimal, places: int) -> str:
    """The value rounded half up to ``places`` decimals, all of them shown."""
    return number(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))
