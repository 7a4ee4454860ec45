"""The simulator's pure parts: meter model, config keys, settings, pacing and CLI."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from ocpp_core.simulators import cli
from ocpp_core.simulators.chargepoint import ChargerSettings, FleetSettings, fleet
from ocpp_core.simulators.chargepoint.config import ConfigChange, ConfigStore
from ocpp_core.simulators.chargepoint.connection import WS_LOGGER, backoff_delay
from ocpp_core.simulators.chargepoint.local_list import ListUpdate, LocalAuthList
from ocpp_core.simulators.chargepoint.model import Meter, SimClock

URL = "ws://127.0.0.1:8180/OCPP"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class RealTime:
    """The real seconds a SimClock reads, moved by the test."""

    def __init__(self) -> None:
        self.seconds = 100.0

    def __call__(self) -> float:
        return self.seconds


def clock(speed: float = 1.0) -> tuple[SimClock, RealTime]:
    real = RealTime()
    return SimClock(speed, real, started_at=NOW), real


def test_register_rises_with_power_and_simulated_time() -> None:
    sim, real = clock(speed=60)
    meter = Meter(max_power_w=11_000, battery_wh=60_000, register_wh=500)
    meter.connect_ev(soc=20, now=sim.seconds())
    real.seconds += 1  # one real second = one simulated minute
    sample = meter.sample(sim)
    assert sample.energy_wh == pytest.approx(500 + 11_000 / 60)
    assert sample.timestamp == NOW + timedelta(minutes=1)
    assert sample.power_w == 11_000
    assert sample.current_a == pytest.approx(11_000 / 690)
    assert sample.soc == pytest.approx(20 + 11_000 / 60 / 600)


@given(
    st.floats(min_value=1, max_value=3600),
    st.lists(st.floats(min_value=0.01, max_value=30), min_size=1, max_size=20),
)
def test_at_any_speed_the_meter_rises_no_faster_than_its_power(
    speed: float, pauses: list[float]
) -> None:
    """Timestamps advance with the energy, so a central system sees 11 kW, not 11 kW x speed."""
    sim, real = clock(speed)
    meter = Meter(max_power_w=11_000, battery_wh=1_000_000)
    meter.connect_ev(soc=0, now=sim.seconds())
    previous = meter.sample(sim)
    for pause in pauses:
        real.seconds += pause
        sample = meter.sample(sim)
        hours = (sample.timestamp - previous.timestamp) / timedelta(hours=1)
        assert sample.energy_wh - previous.energy_wh <= 11_000 * hours + 1e-3
        previous = sample


def test_a_full_battery_stops_drawing_power() -> None:
    sim, real = clock(speed=3600)
    meter = Meter(max_power_w=11_000, battery_wh=10_000)
    meter.connect_ev(soc=90, now=sim.seconds())
    real.seconds += 10
    sample = meter.sample(sim)
    assert (sample.energy_wh, sample.soc, sample.power_w) == (1_000, 100.0, 0.0)
    real.seconds += 10
    meter.disconnect_ev(now=sim.seconds())
    assert (meter.register_wh, meter.soc, meter.power_w) == (1_000, None, 0.0)


def test_without_an_ev_the_register_stands_still() -> None:
    sim, real = clock()
    meter = Meter(max_power_w=11_000, battery_wh=60_000, register_wh=42)
    real.seconds += 1_000
    assert meter.sample(sim).energy_wh == 42


@given(st.integers(min_value=0, max_value=10_000))
def test_backoff_grows_but_stays_capped_and_jittered(attempt: int) -> None:
    ceiling = min(30.0, 0.5 * 2.0 ** min(attempt, 30))
    assert ceiling / 2 <= backoff_delay(attempt, 0.5, 30.0) <= ceiling


def test_configuration_changes_follow_the_key_rules() -> None:
    store = ConfigStore.defaults(ChargerSettings(url=URL, charger_id="A", meter_interval=0.5))
    assert store.number("MeterValueSampleInterval") == 0.5
    assert store.change("MeterValueSampleInterval", "15") is ConfigChange.ACCEPTED
    assert store.number("MeterValueSampleInterval") == 15
    assert store.change("AuthorizeRemoteTxRequests", "TRUE") is ConfigChange.ACCEPTED
    assert store.flag("AuthorizeRemoteTxRequests")
    assert store.change("AuthorizeRemoteTxRequests", "maybe") is ConfigChange.REJECTED
    assert store.change("NumberOfConnectors", "9") is ConfigChange.REJECTED
    assert store.change("Nope", "1") is ConfigChange.NOT_SUPPORTED


def test_fleet_names_chargers_and_shares_options() -> None:
    fleet = FleetSettings(url=URL, count=3, id_prefix="LOAD-", connectors=4, password="pw")
    charger = fleet.charger_settings(3)
    assert (charger.charger_id, charger.connectors, charger.password) == ("LOAD-0003", 4, "pw")
    assert charger.endpoint == f"{URL}/LOAD-0003"
    assert "pw" not in repr(charger)
    assert "pw" not in repr(fleet)
    with pytest.raises(ValueError, match="scheme"):
        FleetSettings(url="http://example.com/OCPP", count=2)


def test_a_mixed_fleet_takes_the_protocols_in_turn() -> None:
    fleet = FleetSettings(url=URL, count=3, protocol_mix=("ocpp1.6", "ocpp2.0.1"))
    protocols = [fleet.charger_settings(i).protocol for i in (1, 2, 3)]
    assert protocols == ["ocpp1.6", "ocpp2.0.1", "ocpp1.6"]
    with pytest.raises(ValueError, match="unsupported"):
        FleetSettings(url=URL, protocol_mix=("ocpp1.6", "ocpp9"))


@pytest.mark.parametrize(
    "bad",
    [
        {"protocol": "ocpp2.0"},
        {"url": "http://example.com/OCPP"},
        {"connectors": 0},
        {"speed": 0},
        {"charger_id": "a:b"},
        {"plug_in_after": -1.0},
    ],
)
def test_invalid_settings_fail_early(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  # each case has its own message
        ChargerSettings(**({"url": URL, "charger_id": "A"} | bad))  # type: ignore[arg-type]


def test_websocket_debug_logs_never_show_the_password(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=WS_LOGGER.name):
        WS_LOGGER.debug("> %s: %s", "Authorization", "Basic c2VjcmV0")
        WS_LOGGER.debug("> %s: %s", "Host", "example.com")
    assert [r.getMessage() for r in caplog.records] == [
        "> Authorization: <redacted>",
        "> Host: example.com",
    ]


def test_cli_maps_options_onto_fleet_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[FleetSettings] = []

    async def fake_run_fleet(settings: FleetSettings) -> None:
        seen.append(settings)

    monkeypatch.setattr(fleet, "run_fleet", fake_run_fleet)  # the command imports it as it runs
    monkeypatch.setattr(cli, "_configure_logging", lambda verbose: None)
    args = ["--url", URL, "--count", "5", "--speed", "60", "--auto-start", "DEMO"]
    args += ["--plug-in-after", "0.5"]
    result = CliRunner().invoke(cli.simulate, [*args, "--duration", "30"])
    assert result.exit_code == 0, result.output
    [settings] = seen
    assert (settings.count, settings.speed, settings.auto_start) == (5, 60.0, "DEMO")
    assert settings.plug_in_after == 0.5
    assert (settings.duration, settings.connectors, settings.id_prefix) == (30.0, 2, "SIM-")
    assert (settings.protocol, settings.protocol_mix) == ("ocpp1.6", ())
    mixed = ["--url", URL, "--protocol", "ocpp2.0.1", "--protocol", "ocpp1.6"]
    assert CliRunner().invoke(cli.simulate, mixed).exit_code == 0
    assert seen[-1].protocol_mix == ("ocpp2.0.1", "ocpp1.6")


def test_cli_help_documents_every_option() -> None:
    result = CliRunner().invoke(cli.simulate, ["--help"])
    assert result.exit_code == 0
    for option in ("--url", "--count", "--id-prefix", "--protocol", "--connectors", "--password"):
        assert option in result.output
    for option in ("--power-w", "--meter-interval", "--speed", "--duration", "--auto-start"):
        assert option in result.output
    for option in ("--plug-in-after",):
        assert option in result.output


def test_the_local_list_refuses_a_stale_differential_and_an_overflow() -> None:
    kept = LocalAuthList()
    assert kept.update(3, full=True, changes={"A": "Accepted"}, max_length=2) is (
        ListUpdate.ACCEPTED
    )
    stale = kept.update(3, full=False, changes={"B": "Accepted"}, max_length=2)
    assert stale is ListUpdate.VERSION_MISMATCH
    over = kept.update(4, full=False, changes={"B": "Accepted", "C": "Blocked"}, max_length=2)
    assert over is ListUpdate.FAILED
    assert (kept.version, kept.entries) == (3, {"A": "Accepted"})
    assert kept.update(4, full=False, changes={"A": None}, max_length=2) is ListUpdate.ACCEPTED
    assert (kept.version, kept.entries) == (4, {})
