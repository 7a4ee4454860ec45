"""Dashboard tiles: one per connector, from the database's last known state.

The server's nodes write what chargers report, and which ones are connected,
to the database (see domain.presence); :mod:`.fleet` reads one page of it.
Tiles are plain values, each with a version of its own, so the live refresh
sends the browser only the tiles that changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ocpp_core.db.models import Connector, Transaction
from ocpp_core.domain import transactions
from ocpp_core.domain.connector_status import IN_USE, ConnectorStatus
from ocpp_core.management.admin_forms import path_part, query_string
from ocpp_core.management.live import version_of
from ocpp_core.management.numbers import thousandths

# What an operator's tile shows as taken: in use, a car plugged in, or held for a driver.
_TAKEN = IN_USE | {ConnectorStatus.PREPARING, ConnectorStatus.RESERVED}
# Not imported from their pages' modules, which build on this one.
TRANSACTIONS_PATH = "/Home/Transactions"
CONNECTORS_PATH = "/Home/Connector"
_KINDS: dict[str | None, str] = {
    ConnectorStatus.AVAILABLE: "available",
    ConnectorStatus.FAULTED: "faulted",
    ConnectorStatus.UNAVAILABLE: "unavailable",
}
_FREE = frozenset({ConnectorStatus.AVAILABLE, None})


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
    def version(self) -> str:
        """Changes whenever anything the tile shows does (durations tick by the minute)."""
        return version_of(self)[:8]

    @property
    def slot(self) -> str:
        """The tile's element id for a swap: the key may hold characters no selector takes."""
        return "slot-" + version_of(self.key)

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
class Row:
    """One tile's row: a charge point with one of its connectors (None: it reported none)."""

    charge_point_id: str
    name: str | None
    online: bool
    connector: Connector | None

    @property
    def key(self) -> tuple[str, int]:
        return self.charge_point_id, self.connector.connector_id if self.connector else 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The database's side of one page of tiles."""

    rows: Sequence[Row]
    connector_counts: Mapping[str, int]
    open_transactions: Sequence[Transaction]
    # Connectors a driver's reservation holds, as the driver's page counts them.
    held: frozenset[tuple[str, int]] = frozenset()


def build_tiles(snapshot: Snapshot, now: datetime, *, online_known: bool) -> tuple[Tile, ...]:
    """The page's tiles; while the server can't be asked, online states are unknown."""
    # Ordered by id, so the newest open transaction of a connector wins.
    sessions = {(t.charge_point_id, t.connector_id): t for t in snapshot.open_transactions}
    tiles: list[Tile] = []
    for row in snapshot.rows:
        online = row.online if online_known else None
        if row.connector is None:
            label = row.name or row.charge_point_id
            tiles.append(_tile(row.charge_point_id, None, label, State(), online, None, now))
            continue
        several = snapshot.connector_counts.get(row.charge_point_id, 1) > 1
        label = row.connector.name or _label(row, several=several)
        session = sessions.get(row.key)
        state = _stored(row.connector)
        if row.key in snapshot.held and session is None:
            state = _reserved(state)
        tiles.append(_tile(*row.key, label, state, online, session, now))
    return tuple(tiles)


def _label(row: Row, *, several: bool) -> str:
    name = row.name or row.charge_point_id
    return f"{name}:{row.key[1]}" if several else name


def _tile(
    cp_id: str,
    number: int | None,
    label: str,
    state: State,
    online: bool | None,
    transaction: Transaction | None,
    now: datetime,
) -> Tile:
    status = state.status or (ConnectorStatus.OCCUPIED if transaction else "Unknown")
    kind = "occupied" if status in _TAKEN else _KINDS.get(status, "unknown")
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
        return replace(state, status=ConnectorStatus.RESERVED)
    return state


def _stored(row: Connector) -> State:
    return State(
        row.status, row.error_code, row.status_at, row.meter_wh, row.power_w, row.soc_percent
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
