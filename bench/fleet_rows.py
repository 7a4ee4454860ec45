"""The rows of the fleet data set: a year of a charging network, generated from a seed.

Everything follows the meanings of :mod:`ocpp_core.db.models`: a connector
charges only under an open, accepted transaction; a connector's transactions
never overlap and its meter register only grows; a paid session's reservation
is settled with the project's own pricing (``settle``, ``capture_amount``), so
amounts are what the server would have captured; at most one active
reservation per connector. Rows come out in id order, as the server would have
written them, and in the columns' Python types (aware UTC times): the loader
turns them into the database's.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench import fleet_messages
from bench.fleet_money import Money, Session, pick
from ocpp_core.domain.pricing import Tariff

Row = tuple[Any, ...]

DAY = timedelta(days=1)
YEAR_DAYS = 365
OPEN_SHARE = 0.05  # of connectors charging now: their transactions started in the last hours
PAID_SHARE = 0.85  # of reservations that led to a transaction; the rest never started
POWERS_W = (7_400, 11_000, 22_000, 50_000)
STOP_REASONS = ("EVDisconnected", "Local", "Remote", "PowerLoss")
IDLE_STATUSES = (
    ("Available", 0.86),
    ("Unavailable", 0.05),
    ("Faulted", 0.04),
    ("Preparing", 0.03),
    ("Finishing", 0.02),
)
ERROR_CODES = ("GroundFailure", "ConnectorLockFailure", "PowerMeterFailure", "OtherError")

CHARGE_POINT_COLUMNS = [
    "id",
    "name",
    "display_code",
    "location",
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "protocol",
    "booted_at",
    "last_seen_at",
    "free_charging",
    "price_kwh_millicents",
    "session_fee_cents",
    "usage_fee_minute_millicents",
    "usage_grace_minutes",
    "usage_max_minutes",
    "usage_after_charging",
    "max_session_wh",
    "currency",
    "created_at",
]
TAG_COLUMNS = [
    "id",
    "name",
    "parent_id",
    "expires_at",
    "blocked",
    "created_at",
]
TRANSACTION_COLUMNS = [
    "id",
    "charge_point_id",
    "connector_id",
    "start_tag",
    "start_at",
    "meter_start_wh",
    "meter_start_source",
    "start_result",
    "stop_tag",
    "stop_at",
    "meter_stop_wh",
    "stop_reason",
    "last_meter_wh",
    "last_meter_at",
    "energy_wh",
    "seq_gaps",
    "energy_limit_wh",
]
CONNECTOR_COLUMNS = [
    "charge_point_id",
    "connector_id",
    "name",
    "status",
    "error_code",
    "status_at",
    "meter_wh",
    "meter_at",
    "power_w",
    "current_ma",
    "soc_percent",
]


@dataclass(frozen=True)
class Counts:
    charge_points: int
    connectors: int
    tags: int
    transactions: int
    reservations: int
    messages: int

    @classmethod
    def at(cls, scale: float) -> Counts:
        """Issue 12's fleet times ``scale``: two connectors per charge point."""
        points = max(1, round(20_000 * scale))
        return cls(
            charge_points=points,
            connectors=2 * points,
            tags=max(1, round(5_000 * scale)),
            transactions=max(1, round(500_000 * scale)),
            reservations=max(1, round(50_000 * scale)),
            messages=max(1, round(2_000_000 * scale)),
        )


def charge_point_id(number: int) -> str:
    return f"FLEET{number:06d}"


@dataclass
class _Point:
    """What later rows need to know of a charge point."""

    tariff: Tariff
    power_w: int


@dataclass
class _Position:
    """A connector's state as the year unfolds."""

    register_wh: int
    free_at: datetime
    open_tx: int | None = None
    open_power_w: int = 0


@dataclass
class Fleet:
    """The generator: call the row methods in load order (each feeds the next)."""

    counts: Counts
    now: datetime
    seed: int = 12
    rng: random.Random = field(init=False)
    points: list[_Point] = field(default_factory=list)
    positions: list[_Position] = field(default_factory=list)
    tag_ids: list[str] = field(default_factory=list)
    reservations: list[Row] = field(default_factory=list)
    charging_tags: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.money = Money(self.rng)
        self.year_start = self.now - YEAR_DAYS * DAY

    # --- charge points and tags ---------------------------------------------------------

    def charge_point_rows(self) -> Iterator[Row]:
        rng = self.rng
        for n in range(self.counts.charge_points):
            tariff = self._tariff()
            power = rng.choice(POWERS_W)
            self.points.append(_Point(tariff, power))
            for _ in range(2):
                self.positions.append(_Position(rng.randrange(0, 2_000_000), self.year_start))
            online = rng.random() < 0.92
            seen = self.now - timedelta(seconds=rng.uniform(0, 300) if online else 86_400 * 3)
            yield (
                charge_point_id(n),
                f"Station {n}",
                f"F{n:06d}",
                f"{rng.choice(('Berlin', 'Hamburg', 'Munich', 'Cologne'))}, site {n // 10}",
                rng.choice(("ABB", "Alpitronic", "Kempower", "Wallbox")),
                f"AC{power // 1000}" if power < 50_000 else "HPC50",
                f"SN{n:08d}",
                "1.4.2",
                "ocpp1.6",
                seen - DAY * rng.uniform(0, 30),
                seen,
                tariff.free,
                tariff.price_kwh_millicents,
                tariff.session_fee_cents,
                tariff.usage_fee_minute_millicents,
                tariff.usage_grace_minutes,
                tariff.usage_max_minutes,
                tariff.usage_after_charging,
                tariff.max_energy_wh,
                tariff.currency,
                self.year_start - DAY * 30,
            )

    def _tariff(self) -> Tariff:
        rng = self.rng
        if rng.random() < 0.15:
            return Tariff(free=True)
        usage = rng.random() < 0.2
        tariff = Tariff(
            price_kwh_millicents=rng.choice((39_000, 45_000, 49_000, 59_000)),
            session_fee_cents=rng.choice((0, 50, 100)),
            usage_fee_minute_millicents=10_000 if usage else 0,
            usage_grace_minutes=240 if usage else 0,
            usage_max_minutes=600 if usage else 0,
            max_energy_wh=rng.choice((60_000, 80_000)),
        )
        assert tariff.problem() is None, tariff
        return tariff

    def tag_rows(self) -> Iterator[Row]:
        rng = self.rng
        groups = max(1, self.counts.tags // 100)
        for n in range(self.counts.tags):
            # RFID UIDs: 7 bytes in hex, distinct (an odd multiplier permutes 48-bit numbers).
            tag = f"04{(n * 2_654_435_761) % 2**48:012X}"
            self.tag_ids.append(tag)
            is_group = n < groups
            expired = not is_group and rng.random() < 0.03
            yield (
                tag,
                f"Fleet group {n}" if is_group else f"Driver {n}",
                None if is_group or rng.random() < 0.3 else self.tag_ids[rng.randrange(groups)],
                self.now - DAY * rng.uniform(1, 90) if expired else None,
                not is_group and rng.random() < 0.02,
                self.year_start - DAY * rng.uniform(0, 200),
            )

    # --- transactions and the reservations of paid sessions -----------------------------

    def transaction_rows(self) -> Iterator[Row]:
        """A year of sessions in start order (ids follow), the last hours' still running."""
        total = self.counts.transactions
        opening = min(max(1, round(OPEN_SHARE * self.counts.connectors)), total)
        days = self._per_day(total - opening)
        paid_left = min(round(PAID_SHARE * self.counts.reservations), total)
        tx_id, seen = 0, 0
        for day, count in enumerate(days):
            starts = [(start, False) for start in self._starts(day, count)]
            if day == len(days) - 1:
                starts += [(self._recent(), True) for _ in range(opening)]
            for start, running in sorted(starts):
                tx_id += 1
                paid = self.rng.random() * (total - seen) < paid_left
                seen += 1
                paid_left -= paid
                yield self._session(tx_id, start, paid=paid, running=running)

    def _recent(self) -> datetime:
        return self.now - timedelta(hours=self.rng.uniform(0.02, 4))

    def _per_day(self, closed: int) -> list[int]:
        base, extra = divmod(closed, YEAR_DAYS)
        return [base + (1 if day < extra else 0) for day in range(YEAR_DAYS)]

    def _starts(self, day: int, count: int) -> list[datetime]:
        """Start times in one day, most by day; the last day ends hours before now."""
        day_start = self.year_start + day * DAY
        span = DAY if day < YEAR_DAYS - 1 else DAY - timedelta(hours=6)
        hours = span.total_seconds() / 3600
        starts = []
        for _ in range(count):
            hour = min(hours - 0.01, max(0.0, self.rng.gauss(hours * 0.55, hours * 0.22)))
            starts.append(day_start + timedelta(hours=hour))
        return starts

    def _session(self, tx_id: int, start: datetime, *, paid: bool, running: bool) -> Row:
        rng = self.rng
        number, position = self._free_position(start)
        start = max(start, position.free_at)  # no connector is free: the least busy one
        point = self.points[number // 2]
        seconds = min(14 * 3600, max(600, rng.lognormvariate(8.6, 0.6)))
        if running:  # one of the sessions under way now
            seconds = max(seconds, (self.now - start).total_seconds() + 600)
        energy = int(point.power_w * seconds / 3600 * rng.uniform(0.3, 0.9))
        cap = point.tariff.max_energy_wh if paid and not point.tariff.free else 0
        energy = min(energy, 80_000, cap or 80_000)
        stop: datetime | None = start + timedelta(seconds=seconds)
        if stop is not None and stop >= self.now:
            stop, energy = None, int(energy * (self.now - start) / timedelta(seconds=seconds))
        meter_start = position.register_wh
        position.register_wh += energy
        position.free_at = stop or self.now
        tag = self.money.id_tag() if paid else self._driver_tag(charging=stop is None)
        if stop is None:
            position.open_tx, position.open_power_w = tx_id, point.power_w
        if paid:
            session = Session(tx_id, tag, start, stop, energy)
            cp, connector = charge_point_id(number // 2), number % 2 + 1
            self.reservations.append(self.money.paid(cp, connector, point.tariff, session))
        reason = rng.choice(STOP_REASONS) if stop else None
        return (
            tx_id,
            charge_point_id(number // 2),
            number % 2 + 1,
            tag,
            start,
            meter_start,
            "Reported",
            "Accepted",
            tag if reason == "Local" else None,
            stop,
            position.register_wh if stop else None,
            reason,
            position.register_wh,
            stop or self.now,
            energy if stop else None,
            0,
            cap or None,
        )

    def _driver_tag(self, *, charging: bool) -> str:
        """A tag; for a running session one not charging elsewhere (the server refuses that)."""
        tag = self.rng.choice(self.tag_ids)
        for _ in range(20 if charging else 0):
            if tag not in self.charging_tags:
                break
            tag = self.rng.choice(self.tag_ids)
        if charging:
            self.charging_tags.add(tag)
        return tag

    def _free_position(self, start: datetime) -> tuple[int, _Position]:
        """A connector free at ``start``: any at random, or the one free the longest."""
        for _ in range(20):
            number = self.rng.randrange(len(self.positions))
            if self.positions[number].free_at <= start:
                return number, self.positions[number]
        number = min(range(len(self.positions)), key=lambda n: self.positions[n].free_at)
        return number, self.positions[number]

    def reservation_rows(self) -> Iterator[Row]:
        """The paid sessions' reservations, then the attempts that never started."""
        yield from self.reservations
        for _ in range(self.counts.reservations - len(self.reservations)):
            number = self.rng.randrange(len(self.positions))
            created = self.year_start + (self.now - self.year_start) * self.rng.random() * 0.99
            cp, connector = charge_point_id(number // 2), number % 2 + 1
            yield self.money.unstarted(cp, connector, self.points[number // 2].tariff, created)

    # --- connectors and the message log -------------------------------------------------

    def message_rows(self) -> Iterator[Row]:
        ids = [charge_point_id(n) for n in range(self.counts.charge_points)]
        return fleet_messages.rows(self.rng, ids, self.counts.messages, self.now)

    def connector_rows(self) -> Iterator[Row]:
        rng = self.rng
        for number, position in enumerate(self.positions):
            status, error, power, current, soc = pick(rng, IDLE_STATUSES), None, None, None, None
            if position.open_tx is not None:
                status = "Charging" if rng.random() < 0.9 else "SuspendedEV"
                power = position.open_power_w if status == "Charging" else 0
                current, soc = power * 1000 // 690, rng.randrange(10, 95)
            elif status == "Faulted":
                error = rng.choice(ERROR_CODES)
            at = min(self.now, position.free_at + timedelta(seconds=rng.uniform(0, 600)))
            yield (
                charge_point_id(number // 2),
                number % 2 + 1,
                None,
                status,
                error or "NoError",
                at,
                position.register_wh,
                position.free_at,
                power,
                current,
                soc,
            )
