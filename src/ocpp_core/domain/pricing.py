"""Tariffs, the card hold and the settlement, all in integer money.

Rates are thousandths of a minor unit (``millicents``) so that a price such as
0.355 EUR/kWh is exact; amounts are minor units (cents), rounded half up only
when an amount is formed. The hold uses the same functions as the settlement,
so what a session can cost never exceeds what was authorized for it unless
the charger delivered more than the tariff's cap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, DecimalException, Inexact, InvalidOperation

WH_PER_KWH = 1000
MILLICENTS_PER_CENT = 1000
MILLICENTS_PER_UNIT = 100 * MILLICENTS_PER_CENT  # rates are typed in currency units
MAX_SETTING = 2**31 - 1  # the narrowest tariff column (minutes) holds no more
MAX_HOLD_CENTS = 99_999_999  # Stripe's largest amount in a two-decimal currency
# Amounts here are hundredths of the currency unit; Stripe counts these in other units.
_NOT_TWO_DECIMALS = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"}
    | {"xaf", "xof", "xpf", "bhd", "jod", "kwd", "omr", "tnd"}
)
_CURRENCY = re.compile(r"[a-z]{3}")
# Exact arithmetic: a digit that would be rounded away raises instead.
_EXACT = Context(prec=60, traps=[InvalidOperation, Inexact])
# The option that sets each number, so a message says what to change.
_OPTIONS = {
    "price_kwh_millicents": "--per-kwh",
    "session_fee_cents": "--session-fee",
    "usage_fee_minute_millicents": "--usage-fee-per-minute",
    "usage_grace_minutes": "--usage-grace-minutes",
    "usage_max_minutes": "--usage-max-minutes",
    "max_energy_wh": "--max-kwh",
}


class TariffError(ValueError):
    """A tariff that cannot be charged for; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Tariff:
    price_kwh_millicents: int = 0
    session_fee_cents: int = 0
    usage_fee_minute_millicents: int = 0
    usage_grace_minutes: int = 0
    usage_max_minutes: int = 0
    usage_after_charging: bool = False
    max_energy_wh: int = 0
    currency: str = "eur"
    free: bool = False

    @property
    def is_free(self) -> bool:
        """Only the flag makes a station free: an unpriced one is unconfigured, not free."""
        return self.free

    @property
    def waits_for_unplug(self) -> bool:
        """An idle fee runs until the car leaves, so settling must wait for it."""
        return self.usage_fee_minute_millicents > 0 and self.usage_after_charging

    def problem(self) -> str | None:
        """Why the tariff can't be stored or a paid one can't produce a hold, or None."""
        return (
            self._range_problem()
            or self._currency_problem()
            or (None if self.free else self._hold_problem())
        )

    def _range_problem(self) -> str | None:
        for name, option in _OPTIONS.items():
            number: int = getattr(self, name)
            if number < 0:
                return f"{option} must not be negative"
            if number > MAX_SETTING:
                return f"{option} is too large"
        return None

    def _currency_problem(self) -> str | None:
        if not _CURRENCY.fullmatch(self.currency):
            return f"--currency {self.currency!r}: use a three-letter ISO 4217 code, lower case"
        if self.currency in _NOT_TWO_DECIMALS:
            return f"--currency {self.currency!r}: only currencies with two decimals are supported"
        return None

    def _hold_problem(self) -> str | None:
        if not (
            self.price_kwh_millicents or self.session_fee_cents or self.usage_fee_minute_millicents
        ):
            return "no price: set --per-kwh, --session-fee or --usage-fee-per-minute, or --free"
        if self.price_kwh_millicents and not self.max_energy_wh:
            return "a per-kWh price needs --max-kwh: it bounds the card hold"
        if self.usage_fee_minute_millicents and not self.usage_max_minutes:
            return "a usage fee needs --usage-max-minutes: it bounds the card hold"
        hold = hold_cents(self)
        if hold == 0:
            return "the hold would be zero: raise a price, --max-kwh or --usage-max-minutes"
        if hold > MAX_HOLD_CENTS:
            largest = format_money(MAX_HOLD_CENTS, self.currency)
            held = format_money(hold, self.currency)
            return f"the hold of {held} is more than a card payment may be ({largest})"
        return None


def _divide_half_up(numerator: int, denominator: int) -> int:
    """Integer division rounding halves up; every amount here is non-negative."""
    return (numerator + denominator // 2) // denominator


def energy_cents(tariff: Tariff, energy_wh: int) -> int:
    if energy_wh <= 0:
        return 0
    return _divide_half_up(
        tariff.price_kwh_millicents * energy_wh, WH_PER_KWH * MILLICENTS_PER_CENT
    )


def billable_minutes(tariff: Tariff, seconds: int) -> int:
    """Started minutes beyond the grace period, capped at the tariff's maximum."""
    started = -(-max(seconds, 0) // 60)
    return min(tariff.usage_max_minutes, max(0, started - tariff.usage_grace_minutes))


def usage_cents(tariff: Tariff, minutes: int) -> int:
    return _divide_half_up(tariff.usage_fee_minute_millicents * minutes, MILLICENTS_PER_CENT)


def hold_cents(tariff: Tariff) -> int:
    """What the card is authorized for: the most the tariff lets a session cost."""
    return (
        energy_cents(tariff, tariff.max_energy_wh)
        + usage_cents(tariff, tariff.usage_max_minutes)
        + tariff.session_fee_cents
    )


@dataclass(frozen=True, slots=True)
class Settlement:
    energy_wh: int
    energy_cents: int
    usage_minutes: int
    usage_cents: int
    session_fee_cents: int

    @property
    def total_cents(self) -> int:
        return self.energy_cents + self.usage_cents + self.session_fee_cents


def settle(tariff: Tariff, *, energy_wh: int, usage_seconds: int) -> Settlement:
    minutes = billable_minutes(tariff, usage_seconds) if tariff.usage_fee_minute_millicents else 0
    return Settlement(
        energy_wh=max(energy_wh, 0),
        energy_cents=energy_cents(tariff, energy_wh),
        usage_minutes=minutes,
        usage_cents=usage_cents(tariff, minutes),
        session_fee_cents=tariff.session_fee_cents,
    )


def amount_to_capture(
    settlement: Settlement, *, authorized_cents: int, min_energy_wh: int, min_charge_cents: int
) -> int:
    """Cents to capture; 0 means release the whole hold.

    Below the minimum energy nothing is charged (a car that would not charge
    should not cost a session fee), and an amount under the card network's
    minimum cannot be captured at all.
    """
    if settlement.energy_wh < min_energy_wh:
        return 0
    amount = min(settlement.total_cents, authorized_cents)
    return amount if amount >= max(min_charge_cents, 1) else 0


def parse_money(text: str, *, scale: int, name: str) -> int:
    """``"0.355"`` with scale 100_000 → 35_500; refuses what the scale can't hold exactly.

    The multiplication runs in a context that raises rather than rounds, so a
    digit beyond the scale is refused instead of silently dropped.
    """
    try:
        value = _EXACT.multiply(Decimal(text), scale)
    except InvalidOperation:
        raise TariffError(f"{name}: {text!r} is not a number") from None
    except DecimalException:
        raise TariffError(f"{name}: {text!r} has too many digits") from None
    if not value.is_finite():
        raise TariffError(f"{name}: {text!r} is not a number")
    if value < 0 or value != value.to_integral_value():
        raise TariffError(
            f"{name}: {text!r} must be non-negative with at most {len(str(scale)) - 1} decimals"
        )
    if value > MAX_SETTING:
        raise TariffError(f"{name}: {text!r} is too large")
    return int(value)


def money_value(minor_units: Decimal | int) -> Decimal:
    """``1234`` cents → ``Decimal("12.34")``: exact, two places, for any language to write."""
    return (Decimal(minor_units) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def format_money(minor_units: Decimal | int, currency: str) -> str:
    """``1234`` cents → ``"12.34 EUR"`` for messages and the CLI."""
    return f"{money_value(minor_units)} {currency.upper()}"
