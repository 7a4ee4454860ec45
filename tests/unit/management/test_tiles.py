"""Dashboard tiles from the database's last known state and the server's live status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ocpp_core.db.models import ChargePoint, Connector, Transaction
from ocpp_core.management.server_api import LiveCharger, LiveConnector
from ocpp_core.management.tiles import Board, Snapshot, Tile, build_board

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


def online(cp_id: str, *connectors: LiveConnector) -> LiveCharger:
    return LiveCharger(id=cp_id, protocol="ocpp1.6", connectors=list(connectors))


def board(snapshot: Snapshot, live: list[LiveCharger] | None) -> Board:
    return build_board(snapshot, live, NOW)


def test_a_station_without_connectors_gets_one_tile() -> None:
    snapshot = Snapshot([station("CP1", "Yard")], [], [])

    [tile] = board(snapshot, [online("CP1")]).tiles

    assert (tile.key, tile.label, tile.status, tile.kind, tile.online) == (
        "CP1/0",
        "Yard",
        "Unknown",
        "unknown",
        True,
    )


def test_names_follow_the_original_rules() -> None:
    snapshot = Snapshot(
        [station("CP1", "Yard"), station("CP2")],
        [
            connector("CP1", 1, "Available"),
            connector("CP1", 2, "Available", name="Left bay"),
            connector("CP2", 1, "Available"),
        ],
        [],
    )

    labels = [tile.label for tile in board(snapshot, []).tiles]

    assert labels == ["Yard:1", "Left bay", "CP2"]  # CP2: no name, so its id


def test_live_state_wins_over_the_stored_one_for_online_chargers() -> None:
    snapshot = Snapshot([station("CP1")], [connector("CP1", 1, "Available")], [])
    live = [online("CP1", LiveConnector(connectorId=1, status="Charging", powerW=11_000))]

    [tile] = board(snapshot, live).tiles

    assert (tile.status, tile.kind, tile.power_kw) == ("Charging", "occupied", "11.0")


def test_a_charger_not_online_is_offline_with_its_last_report() -> None:
    snapshot = Snapshot([station("CP1")], [connector("CP1", 1, "Charging", power_w=7_400)], [])

    [tile] = board(snapshot, []).tiles

    assert (tile.status, tile.kind, tile.online, tile.last_status) == (
        "Offline",
        "offline",
        False,
        "Charging",
    )
    assert tile.power_kw is None  # no live power for a charger we can't hear


def test_without_the_server_the_stored_state_shows_and_online_is_unknown() -> None:
    snapshot = Snapshot(
        [station("CP1")], [connector("CP1", 1, "Faulted", error_code="HighTemperature")], []
    )

    result = board(snapshot, None)

    [tile] = result.tiles
    assert not result.server_reachable
    assert (tile.status, tile.kind, tile.online, tile.error_code) == (
        "Faulted",
        "faulted",
        None,
        "HighTemperature",
    )


def test_an_open_session_shows_energy_soc_and_duration() -> None:
    snapshot = Snapshot(
        [station("CP1")],
        [connector("CP1", 1, "SuspendedEV", meter_wh=12_345, power_w=0, soc_percent=80)],
        [session("CP1", 1, start_wh=10_000, minutes=125, last_meter_wh=12_000)],
    )

    [tile] = board(snapshot, [online("CP1")]).tiles

    assert tile.kind == "occupied"
    assert (tile.power_kw, tile.session_kwh, tile.soc_percent) == ("0.0", "2.35", 80)
    assert tile.started_at == NOW - timedelta(minutes=125)
    assert tile.duration == "2 h 05 min"


def test_a_connector_with_no_status_but_a_session_is_occupied() -> None:
    snapshot = Snapshot(
        [station("CP1")], [connector("CP1", 1, None)], [session("CP1", 1, start_wh=0, minutes=0)]
    )

    [tile] = board(snapshot, [online("CP1")]).tiles

    assert (tile.status, tile.kind, tile.session_kwh, tile.duration) == (
        "Occupied",
        "occupied",
        "0.00",
        "< 1 min",
    )


def test_the_newest_open_session_of_a_connector_counts() -> None:
    snapshot = Snapshot(
        [station("CP1")],
        [connector("CP1", 1, "Charging")],
        [
            session("CP1", 1, start_wh=0, minutes=3000, id=1, last_meter_wh=50_000),
            session("CP1", 1, start_wh=50_000, minutes=30, id=2, last_meter_wh=51_000),
        ],
    )

    [tile] = board(snapshot, [online("CP1")]).tiles

    assert (tile.session_kwh, tile.duration) == ("1.00", "30 min")


def test_long_sessions_count_days() -> None:
    snapshot = Snapshot(
        [station("CP1")],
        [connector("CP1", 1, "Charging")],
        [session("CP1", 1, start_wh=0, minutes=(2 * 24 + 3) * 60)],
    )

    [tile] = board(snapshot, [online("CP1")]).tiles

    assert tile.duration == "2 d 3 h"


def test_the_version_changes_with_what_is_shown_and_only_then() -> None:
    snapshot = Snapshot([station("CP1")], [connector("CP1", 1, "Available")], [])
    same = Snapshot([station("CP1")], [connector("CP1", 1, "Available")], [])
    changed = Snapshot([station("CP1")], [connector("CP1", 1, "Preparing")], [])

    assert board(snapshot, []).version == board(same, []).version
    assert board(snapshot, []).version != board(changed, []).version
    assert board(snapshot, []).version != board(snapshot, None).version


def test_tiles_are_ordered_by_station_then_connector() -> None:
    snapshot = Snapshot(
        [station("A"), station("B")],
        [
            connector("B", 2, "Available"),
            connector("A", 3, "Available"),
            connector("B", 1, "Available"),
        ],
        [],
    )

    keys = [tile.key for tile in board(snapshot, []).tiles]

    assert keys == ["A/3", "B/1", "B/2"]
    assert isinstance(board(snapshot, []).tiles[0], Tile)


def test_a_connector_held_by_a_payment_is_reserved_until_it_reports_more() -> None:
    snapshot = Snapshot(
        [station("CP1")],
        [
            connector("CP1", 1, "Available"),
            connector("CP1", 2, "Charging"),
            connector("CP1", 3, "Faulted"),
            connector("CP1", 4, None),
            connector("CP1", 5, "Available"),
        ],
        [],
        held=frozenset({("CP1", 1), ("CP1", 2), ("CP1", 3), ("CP1", 4)}),
    )

    tiles = board(snapshot, [online("CP1")]).tiles
    offline = board(snapshot, []).tiles

    assert [(tile.status, tile.kind) for tile in tiles] == [
        ("Reserved", "occupied"),
        ("Charging", "occupied"),
        ("Faulted", "faulted"),
        ("Reserved", "occupied"),
        ("Available", "available"),
    ]
    assert offline[0].status == "Offline"
