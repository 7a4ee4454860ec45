"""The fleet's payment reservations: paid sessions settled as the server settles them.

A reservation that led to a transaction carries that transaction's OCPP id tag
and, once it stopped, the settlement of the project's own pricing: what was
captured, or the hold released when nothing was owed. One that never started
ended as drivers' attempts do (unpaid, cancelled, timed out, rejected, failed),
its hold released. Free stations' sessions hold no card at all.
"""

from __future__ import annotations

import base64
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ocpp_core.config import PaymentSettings
from ocpp_core.db.models import PaymentReservation
from ocpp_core.domain.pricing import Tariff, hold_cents, settle
from ocpp_core.payments.billing import capture_amount

Row = tuple[Any, ...]
Weighted = tuple[tuple[str, float], ...]

UNSTARTED: Weighted = (
    ("Abandoned", 0.55),
    ("Cancelled", 0.15),
    ("StartTimeout", 0.15),
    ("StartRejected", 0.08),
    ("Failed", 0.07),
)
_PAYMENTS = PaymentSettings()
_DEFAULTS: dict[str, Any] = {
    column.name: None for column in PaymentReservation.__table__.columns
} | {"awaiting_plug": False, "idle_seconds": 0, "money_attempts": 0, "free": False}
COLUMNS = list(_DEFAULTS)


def pick(rng: random.Random, weighted: Weighted) -> str:
    names = [name for name, _ in weighted]
    return rng.choices(names, weights=[weight for _, weight in weighted])[0]


@dataclass(frozen=True)
class Session:
    """A paid session's transaction, as the reservation sees it."""

    transaction_id: int
    id_tag: str
    start: datetime
    stop: datetime | None  # None: still charging
    energy_wh: int


@dataclass
class Money:
    rng: random.Random

    def id_tag(self) -> str:
        """A paid session's OCPP id tag, as ``payments.reservations.new_id_tag`` makes them."""
        return "R" + base64.b32encode(self.rng.randbytes(15)).decode()[:19]

    def paid(self, cp: str, connector: int, tariff: Tariff, session: Session) -> Row:
        created = session.start - timedelta(seconds=self.rng.uniform(60, 240))
        row = self._reservation(cp, connector, tariff, created)
        authorized = created + timedelta(seconds=45)
        row |= {
            "ocpp_id_tag": session.id_tag,
            "status": "Charging" if session.stop is None else "Completed",
            "authorized_at": authorized,
            "authorized_cents": None if tariff.free else row["hold_cents"],
            "start_deadline_at": authorized + timedelta(minutes=5),
            "remote_start_sent_at": authorized + timedelta(seconds=1),
            "remote_start_result": "Accepted",
            "transaction_id": session.transaction_id,
            "charging_started_at": session.start,
            "updated_at": session.stop or session.start,
        }
        if not tariff.free:
            row |= _checkout(row["id"])
        if session.stop is not None:
            row |= self._settled(row, tariff, session, session.stop)
        return _as_row(row)

    def unstarted(self, cp: str, connector: int, tariff: Tariff, created: datetime) -> Row:
        rng = self.rng
        row = self._reservation(cp, connector, tariff, created)
        status = pick(rng, UNSTARTED)
        ended = created + timedelta(minutes=rng.uniform(1, 30))
        row |= {"status": status, "updated_at": ended, "failure_code": status}
        if not tariff.free:
            row |= _checkout(row["id"]) | {"money_state": "Released", "released_at": ended}
        if status == "Abandoned":
            row |= {"payment_intent_id": None, "failure_code": "NotPaid"}
        elif not tariff.free:
            row |= {"authorized_at": created + timedelta(seconds=50)}
            row |= {"authorized_cents": row["hold_cents"]}
        if status == "StartRejected":
            row |= {"remote_start_result": "Rejected"}
        return _as_row(row)

    def _reservation(
        self, cp: str, connector: int, tariff: Tariff, created: datetime
    ) -> dict[str, Any]:
        rng = self.rng
        return _DEFAULTS | {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "charge_point_id": cp,
            "connector_id": connector,
            "charge_tag_id": "WEB-" + base64.b32encode(rng.randbytes(10)).decode(),
            "ocpp_id_tag": self.id_tag(),
            "origin": "public",
            "driver_key": f"{rng.getrandbits(128):032x}",
            "free": tariff.free,
            "price_kwh_millicents": tariff.price_kwh_millicents,
            "session_fee_cents": tariff.session_fee_cents,
            "usage_fee_minute_millicents": tariff.usage_fee_minute_millicents,
            "usage_grace_minutes": tariff.usage_grace_minutes,
            "usage_max_minutes": tariff.usage_max_minutes,
            "usage_after_charging": tariff.usage_after_charging,
            "max_energy_wh": tariff.max_energy_wh,
            "currency": tariff.currency,
            "hold_cents": 0 if tariff.free else hold_cents(tariff),
            "created_at": created,
            "updated_at": created,
        }

    def _settled(
        self, row: dict[str, Any], tariff: Tariff, session: Session, stop: datetime
    ) -> dict[str, Any]:
        gone = stop + timedelta(seconds=self.rng.uniform(30, 900))
        seconds = int((gone - session.start).total_seconds())
        bill = settle(tariff, energy_wh=session.energy_wh, usage_seconds=seconds)
        amount = capture_amount(PaymentReservation(**row), bill, _PAYMENTS)
        settled = gone + timedelta(seconds=2)
        money: dict[str, Any] = {}
        if amount > 0:
            money = {"money_state": "Captured", "captured_cents": amount, "captured_at": settled}
        elif not tariff.free:
            money = {"money_state": "Released", "released_at": settled}
        return money | {
            "stopped_at": stop,
            "disconnected_at": gone,
            "energy_wh": bill.energy_wh,
            "energy_cents": bill.energy_cents,
            "usage_minutes": bill.usage_minutes,
            "usage_cents": bill.usage_cents,
            "amount_due_cents": amount,
            "updated_at": settled,
        }


def _checkout(reservation_id: str) -> dict[str, Any]:
    plain = reservation_id.replace("-", "")
    return {
        "checkout_session_id": f"cs_test_{plain}",
        "checkout_url": f"https://checkout.stripe.com/c/pay/cs_test_{plain}",
        "payment_intent_id": f"pi_{plain[:24]}",
    }


def _as_row(reservation: dict[str, Any]) -> Row:
    """The values in the columns' order; a misspelt column would add one."""
    assert len(reservation) == len(COLUMNS), set(reservation) - set(COLUMNS)
    return tuple(reservation.values())
