"""A driver's session as the status page shows it, from the server's ``Payments/Status``.

The server's JSON is read leniently (a missing field shows as nothing) and
turned into formatted values; the words around them live in the template.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ocpp_core.management.numbers import money, rate, thousandths

STAGES = ("waiting", "awaitingPlug", "charging", "waitingForDisconnect", "done", "error")
_MONEY_PENDING = frozenset({"CapturePending", "ReleasePending"})
UNPAID = "PendingPayment"


@dataclass(frozen=True, slots=True)
class Receipt:
    energy_kwh: str | None  # None: the meter reading could not be believed
    duration: str | None
    energy_cost: str | None
    usage_minutes: int
    usage_cost: str | None
    session_fee: str | None
    amount_due: str | None
    captured: str | None
    captured_cents: int | None
    released: str | None
    settled: bool  # the money has moved (captured and/or released)
    meter_review: bool  # the amount is (or was) set by a person, the meter being implausible

    @property
    def checking(self) -> bool:
        """The amount is still being decided: nothing to show but the hold."""
        return self.meter_review and not self.settled


@dataclass(frozen=True, slots=True)
class SessionView:
    reservation_id: str
    charge_point_id: str
    connector_id: int
    stage: str
    status: str
    free: bool
    power_kw: str | None
    energy_kwh: str | None
    cost_so_far: str | None
    hold: str | None
    per_kwh: str | None
    session_fee: str | None
    usage_fee: str | None
    usage_grace_minutes: int
    usage_max_minutes: int
    usage_after_charging: bool
    failure_code: str | None
    paid_late: bool  # paid after the reservation had ended: the hold is given back
    ended_at: str | None  # "2026-11-28 13:00 UTC"
    can_stop: bool
    unpaid: bool  # still at Checkout: cancelled, not stopped (one button, not two)
    receipt: Receipt | None
    final: bool  # nothing will change any more: the page stops refreshing

    @property
    def stage_index(self) -> int:
        return STAGES.index(self.stage) if self.stage in STAGES else 0


def session_view(body: dict[str, Any]) -> SessionView:
    currency = _str(body.get("currency")) or "eur"
    prices, live, payment = (_dict(body.get(key)) for key in ("prices", "live", "money"))
    stage = _str(body.get("sessionStage")) or "waiting"
    free = body.get("free") is True
    receipt = _receipt(body.get("receipt"), currency, free=free)
    states = (_str(payment.get("state")), _str(_dict(body.get("receipt")).get("moneyState")))
    pending = any(state in _MONEY_PENDING for state in states)
    power = _int(live.get("powerW")) if stage == "charging" else None
    energy = _int(body.get("energyWh"))
    cost = _int(body.get("costSoFarCents"))
    hold = _int(body.get("authorizedCents")) or _int(body.get("maxAmountCents"))
    unpaid = body.get("status") == UNPAID
    return SessionView(
        reservation_id=_str(body.get("reservationId")) or "",
        charge_point_id=_str(body.get("chargePointId")) or "",
        connector_id=_int(body.get("connectorId")) or 1,
        stage=stage,
        status=_str(body.get("status")) or "",
        free=free,
        power_kw=None if power is None else thousandths(power, 1),
        energy_kwh=None if energy is None else thousandths(energy, 2),
        cost_so_far=None if cost is None or free else money(cost, currency),
        hold=money(hold, currency) if hold and not free else None,
        per_kwh=_rate(prices.get("perKwhMillicents"), currency),
        session_fee=_money(prices.get("sessionFeeCents"), currency),
        usage_fee=_rate(prices.get("usageFeePerMinuteMillicents"), currency),
        usage_grace_minutes=_int(prices.get("usageGraceMinutes")) or 0,
        usage_max_minutes=_int(prices.get("usageMaxMinutes")) or 0,
        usage_after_charging=prices.get("usageAfterCharging") is True,
        failure_code=_str(body.get("failureCode")),
        paid_late=body.get("paidLate") is True,
        ended_at=_time(body.get("stoppedAt")),
        can_stop=stage in ("waiting", "awaitingPlug", "charging") and not unpaid,
        unpaid=unpaid,
        receipt=receipt,
        final=stage in ("done", "error") and not pending,
    )


def _receipt(value: object, currency: str, *, free: bool) -> Receipt | None:
    if not isinstance(value, dict):
        return None
    captured = _int(value.get("capturedCents"))
    state = _str(value.get("moneyState"))
    energy = _int(value.get("energyWh"))
    return Receipt(
        energy_kwh=None if energy is None else thousandths(energy, 2),
        duration=duration(_int(value.get("durationSeconds"))),
        energy_cost=None if free else _money(value.get("energyCents"), currency, zero=True),
        usage_minutes=_int(value.get("usageMinutes")) or 0,
        usage_cost=None if free else _money(value.get("usageCents"), currency),
        session_fee=None if free else _money(value.get("sessionFeeCents"), currency),
        amount_due=None if free else _money(value.get("amountDueCents"), currency, zero=True),
        captured=None if free else money(captured or 0, currency),
        captured_cents=captured,
        released=None if free else _money(value.get("releasedCents"), currency, zero=True),
        settled=free or state in ("Captured", "Released"),
        meter_review=value.get("meterReview") is True,
    )


def duration(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    minutes = max(0, seconds) // 60
    if minutes < 1:
        return "< 1 min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _time(value: object) -> str | None:
    """An ISO timestamp from the API as a reader wants it, in UTC to the minute."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return f"{at:%Y-%m-%d %H:%M} UTC"


def _rate(value: object, currency: str) -> str | None:
    number = _int(value)
    return rate(number, currency) if number else None


def _money(value: object, currency: str, *, zero: bool = False) -> str | None:
    number = _int(value)
    if number is None or (number == 0 and not zero):
        return None
    return money(number, currency)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
