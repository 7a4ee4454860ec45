"""Dashboard tiles from one page of the database's rows (the page's SQL: test_fleet)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

from ocpp_core.db.models import ChargePoint, Connector, Transaction
from ocpp_core.management.tiles import Row, Snapshot, Tile, build_tiles

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def station(cp_id: str, name: str | None = None) -> ChargePoint:
    return ChargePoint(id=cp_id, name=name, created_at=NOW)


def connector(cp_id: str, number: int, status: str | None, **values: object) -> Connector:
    return Connector(charge_point_id=cp_id, connector_id=number, status=status, **values)


def session(
    cp_id: str, number: int, *, start_wh: int, minutes: int, **values: object
) -> Transaction:
    return Transaction(
        charge_point_id=cp_id,
        connector_id=number,
        start_tag="TAG",
        start_at=NOW - timedelta(minutes=minutes),
        meter_start_wh=start_wh,
        start_result="Accepted",
        **values,
    )


def snapshot(
    stations: Sequence[ChargePoint],
    connectors: Sequence[Connector],
    sessions: Sequence[Transaction] = (),
    *,
    online: Collection[str] = ("CP1",),
    held: frozenset[tuple[str, int]] = frozenset(),
) -> Snapshot:
    """The rows as the page's query returns them: by station, then connector."""
    rows: list[Row] = []
    for cp in stations:
        mine = sorted(
            (c for c in connectors if c.charge_point_id == cp.id), key=lambda c: c.connector_id
        )
        up = cp.id in online
        rows += [Row(cp.id, cp.name, up, c) for c in mine] or [Row(cp.id, cp.name, up, None)]
    counts = Counter(c.charge_point_id for c in connectors)
    return Snapshot(rows, counts, sessions, held)


def tiles(shown: Snapshot, *, online_known: bool = True) -> tuple[Tile, ...]:
    return build_tiles(shown, NOW, online_known=online_known)


def test_a_station_without_connectors_gets_one_tile() -> None:
    [tile] = tiles(snapshot([station("CP1", "Yard")], []))

    assert (tile.key, tile.label, tile.status, tile.kind, tile.online) == (
        "CP1/0",
        "Yard",
        "Unknown",
        "unknown",
        True,
    )


def test_names_follow_the_original_rules() -> None:
    shown = snapshot(
        [station("CP1", "Yard"), station("CP2")],
        [
            connector("CP1", 1, "Available"),
            connector("CP1", 2, "Available", name="Left bay"),
            connector("CP2", 1, "Available"),
        ],
    )

    assert [tile.label for tile in tiles(shown)] == ["Yard:1", "Left bay", "CP2"]


def test_a_station_split_over_pages_still_numbers_its_connectors() -> None:
    rows = [Row("CP1", "Yard", True, connector("CP1", 2, "Available"))]

    [tile] = tiles(Snapshot(rows, {"CP1": 2}, []))

    assert tile.label == "Yard:2"


def test_a_charger_not_online_is_offline_with_its_last_report() -> None:
    shown = snapshot([station("CP1")], [connector("CP1", 1, "Charging", power_w=7_400)], online=())

    [tile] = tiles(shown)

    assert (tile.status, tile.kind, tile.online, tile.last_status) == (
        "Offline",
        "offline",
        False,
        "Charging",
    )
    assert tile.power_kw is None  # no live power for a charger we can't hear


def test_without_the_server_the_stored_state_shows_and_online_is_unknown() -> None:
    shown = snapshot(
        [station("CP1")], [connector("CP1", 1, "Faulted", error_code="HighTemperature")]
    )

    [tile] = tiles(shown, online_known=False)

    assert (tile.status, tile.kind, tile.online, tile.error_code) == (
        "Faulted",
        "faulted",
        None,
        "HighTemperature",
    )


def test_an_open_session_shows_power_energy_soc_and_duration() -> None:
    shown = snapshot(
        [station("CP1")],
        [connector("CP1", 1, "SuspendedEV", meter_wh=12_345, power_w=0, soc_percent=80)],
        [session("CP1", 1, start_wh=10_000, minutes=125, last_meter_wh=12_000)],
    )

    [tile] = tiles(shown)

    assert tile.kind == "occupied"
    assert (tile.power_kw, tile.session_kwh, tile.soc_percent) == ("0.0", "2.35", 80)
    assert tile.started_at == NOW - timedelta(minutes=125)
    assert tile.duration == "2 h 05 min"


def test_a_connector_with_no_status_but_a_session_is_occupied() -> None:
    shown = snapshot(
        [station("CP1")], [connector("CP1", 1, None)], [session("CP1", 1, start_wh=0, minutes=0)]
    )

    [tile] = tiles(shown)

    assert (tile.status, tile.kind, tile.session_kwh, tile.duration) == (
        "Occupied",
        "occupied",
        "0.00",
        "< 1 min",
    )


def test_the_newest_open_session_of_a_connector_counts() -> None:
    shown = snapshot(
        [station("CP1")],
        [connector("CP1", 1, "Charging")],
        [
            session("CP1", 1, start_wh=0, minutes=3000, id=1, last_meter_wh=50_000),
            session("CP1", 1, start_wh=50_000, minutes=30, id=2, last_meter_wh=51_000),
        ],
    )

    [tile] = tiles(shown)

    assert (tile.session_kwh, tile.duration) == ("1.00", "30 min")


def test_long_sessions_count_days() -> None:
    shown = snapshot(
        [station("CP1")],
        [connector("CP1", 1, "Charging")],
        [session("CP1", 1, start_wh=0, minutes=(2 * 24 + 3) * 60)],
    )

    [tile] = tiles(shown)

    assert tile.duration == "2 d 3 h"


def test_a_tiles_version_changes_with_what_it_shows_and_only_then() -> None:
    [one] = tiles(snapshot([station("CP1")], [connector("CP1", 1, "Available")]))
    [same] = tiles(snapshot([station("CP1")], [connector("CP1", 1, "Available")]))
    [changed] = tiles(snapshot([station("CP1")], [connector("CP1", 1, "Preparing")]))
    [unknown] = tiles(
        snapshot([station("CP1")], [connector("CP1", 1, "Available")]), online_known=False
    )

    assert one.version == same.version
    assert len({one.version, changed.version, unknown.version}) == 3
    assert one.slot == changed.slot  # the same element, swapped for the new one


def test_a_connector_held_by_a_payment_is_reserved_until_it_reports_more() -> None:
    stations = [station("CP1")]
    connectors = [
        connector("CP1", 1, "Available"),
        connector("CP1", 2, "Charging"),
        connector("CP1", 3, "Faulted"),
        connector("CP1", 4, None),
        connector("CP1", 5, "Available"),
    ]
    held = frozenset({("CP1", 1), ("CP1", 2), ("CP1", 3), ("CP1", 4)})

    shown = tiles(snapshot(stations, connectors, held=held))
    offline = tiles(snapshot(stations, connectors, held=held, online=()))

    assert [(tile.status, tile.kind) for tile in shown] == [
        ("Reserved", "occupied"),
        ("Charging", "occupied"),
        ("Faulted", "faulted"),
        ("Reserved", "occupied"),
        ("Available", "available"),
    ]
    assert offline[0].status == "Offline"
