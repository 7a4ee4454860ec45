"""Dashboard tiles: one per connector, from the server's live status and the database.

The server says which chargers are online and what their connectors do; the
database holds the last known state of the rest and the open transactions.
Tiles are plain values, so a board can be compared with the one the browser
shows and an unchanged board costs no repaint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import ChargePoint, Connector, PaymentReservation, Transaction
from ocpp_core.domain import transactions
from ocpp_core.management.admin_forms import path_part, query_string
from ocpp_core.management.live import version_of
from ocpp_core.management.numbers import thousandths
from ocpp_core.management.server_api import LiveCharger, LiveConnector
from ocpp_core.payments import reservations

OCCUPIED = frozenset(
    {"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing", "Reserved", "Occupied"}
)
# Not imported from their pages' modules, which build on this one.
TRANSACTIONS_PATH = "/Home/Transactions"
CONNECTORS_PATH = "/Home/Connector"
_KINDS = {"Available": "available", "Faulted": "faulted", "Unavailable": "unavailable"}
_FREE = frozenset({"Available", None})


@dataclass(frozen=True, slots=True)
class State:
    """What a connector last reported."""

    status: str | None = None
    error_code: str | None = None
    status_at: datetime | None = None
    meter_wh: int | None = None
    power_w: int | None = None
    soc_percent: int | None = None


@dataclass(frozen=True, slots=True)
class Tile:
    charge_point_id: str
    connector_id: int | None
    label: str
    status: str  # what the tile says: an OCPP status, "Offline" or "Unknown"
    kind: str  # available | occupied | faulted | unavailable | offline | unknown
    online: bool | None  # None: the server could not be asked
    last_status: str | None = None  # an offline connector's last report
    error_code: str | None = None
    status_at: datetime | None = None
    power_kw: str | None = None
    session_kwh: str | None = None
    soc_percent: int | None = None
    started_at: datetime | None = None
    duration: str | None = None

    @property
    def key(self) -> str:
        return f"{self.charge_point_id}/{self.connector_id or 0}"

    @property
    def transactions_url(self) -> str:
        """The transactions page filtered to this connector (or station, before it reports)."""
        where = {"cp": self.charge_point_id, "conn": self.connector_id}
        return TRANSACTIONS_PATH + query_string(where)

    @property
    def connector_url(self) -> str | None:
        if self.connector_id is None:
            return None
        return f"{CONNECTORS_PATH}/{path_part(self.charge_point_id)}/{self.connector_id}"


@dataclass(frozen=True, slots=True)
class Board:
    tiles: tuple[Tile, ...]
    server_reachable: bool

    @property
    def version(self) -> str:
        """Changes whenever anything shown changes (durations tick by the minute)."""
        return version_of(self)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The database's side of the board."""

    charge_points: Sequence[ChargePoint]
    connectors: Sequence[Connector]
    open_transactions: Sequence[Transaction]
    # Connectors a driver's reservation holds, as the driver's page counts them.
    held: frozenset[tuple[str, int]] = frozenset()


async def load_snapshot(session: AsyncSession, unpaid_cutoff: datetime) -> Snapshot:
    charge_points = (await session.scalars(select(ChargePoint).order_by(ChargePoint.id))).all()
    connectors = (await session.scalars(select(Connector))).all()
    open_transactions = (
        await session.scalars(
            select(Transaction).where(transactions.running()).order_by(Transaction.id)
        )
    ).all()
    held = await session.execute(
        select(PaymentReservation.charge_point_id, PaymentReservation.connector_id).where(
            reservations.holding(unpaid_cutoff)
        )
    )
    held_keys = frozenset((cp_id, number) for cp_id, number in held)
    return Snapshot(charge_points, connectors, open_transactions, held_keys)


def build_board(snapshot: Snapshot, live: Sequence[LiveCharger] | None, now: datetime) -> Board:
    online = None if live is None else {charger.id for charger in live}
    states = {(c.charge_point_id, c.connector_id): _stored(c) for c in snapshot.connectors}
    for charger in live or ():
        for connector in charger.connectors:
            states[(charger.id, connector.connectorId)] = _live(connector)
    names = {(c.charge_point_id, c.connector_id): c.name for c in snapshot.connectors}
    # Ordered by id, so the newest open transaction of a connector wins.
    sessions = {(t.charge_point_id, t.connector_id): t for t in snapshot.open_transactions}
    tiles: list[Tile] = []
    for cp in snapshot.charge_points:
        numbers = sorted(n for (cp_id, n) in states if cp_id == cp.id)
        cp_online = None if online is None else cp.id in online
        if not numbers:
            tiles.append(_tile(cp.id, None, cp.name or cp.id, State(), cp_online, None, now))
        for number in numbers:
            key = (cp.id, number)
            label = names.get(key) or _label(cp, number, several=len(numbers) > 1)
            session = sessions.get(key)
            state = states[key]
            if key in snapshot.held and session is None:
                state = _reserved(state)
            tiles.append(_tile(cp.id, number, label, state, cp_online, session, now))
    return Board(tuple(tiles), server_reachable=live is not None)


def _label(cp: ChargePoint, number: int, *, several: bool) -> str:
    name = cp.name or cp.id
    return f"{name}:{number}" if several else name


def _tile(
    cp_id: str,
    number: int | None,
    label: str,
    state: State,
    online: bool | None,
    transaction: Transaction | None,
    now: datetime,
) -> Tile:
    status = state.status or ("Occupied" if transaction else "Unknown")
    kind = "occupied" if status in OCCUPIED else _KINDS.get(status, "unknown")
    if online is False:
        status, kind = "Offline", "offline"
    busy = kind == "occupied"
    return Tile(
        cp_id,
        number,
        label,
        status,
        kind,
        online,
        last_status=state.status if online is False else None,
        error_code=state.error_code if state.error_code not in (None, "NoError") else None,
        status_at=state.status_at,
        power_kw=_kw(state.power_w) if busy else None,
        session_kwh=_session_kwh(transaction, state),
        soc_percent=state.soc_percent if busy else None,
        started_at=transaction.start_at if transaction else None,
        duration=_duration(now - transaction.start_at) if transaction else None,
    )


def _reserved(state: State) -> State:
    """A held connector that reports nothing busier waits for its driver: Reserved."""
    if state.status in _FREE:
        return replace(state, status="Reserved")
    return state


def _stored(row: Connector) -> State:
    return State(
        row.status, row.error_code, row.status_at, row.meter_wh, row.power_w, row.soc_percent
    )


def _live(connector: LiveConnector) -> State:
    return State(
        connector.status,
        connector.errorCode,
        connector.statusAt,
        connector.meterWh,
        connector.powerW,
        connector.socPercent,
    )


def _kw(power_w: int | None) -> str | None:
    return None if power_w is None else thousandths(power_w, 1)


def _session_kwh(transaction: Transaction | None, state: State) -> str | None:
    if transaction is None:
        return None
    energy = transactions.energy_so_far(transaction, state.meter_wh)
    return None if energy is None else thousandths(energy, 2)


def _duration(elapsed: timedelta) -> str:
    minutes = max(0, int(elapsed.total_seconds() // 60))
    if minutes < 1:
        return "< 1 min"
    hours, minutes = divmod(minutes, 60)
    if hours < 1:
        return f"{minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if days else f"{hours} h {minutes:02d} min"
