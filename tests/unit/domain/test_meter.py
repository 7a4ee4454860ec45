"""Meter normalisation: billing depends on every unit, phase and rounding rule holding."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp_core.domain.meter import (
    CURRENT,
    ENERGY_REGISTER,
    POWER,
    SOC,
    InvalidSample,
    MeterReading,
    Read,
    implausibility,
    summary,
)
from ocpp_core.ocpp.v16 import read_sample as read_v16
from ocpp_core.ocpp.v201_transactions import read_sample as read_v201

T0 = datetime(2024, 1, 1, tzinfo=UTC)
INTERVAL = "Energy.Active.Import.Interval"
EMPTY = MeterReading(energy_wh=None, power_w=None, current_ma=None, soc_percent=None, context=None)

amounts = st.decimals(
    min_value=-(10**6), max_value=10**6, places=3, allow_nan=False, allow_infinity=False
)


def sample(
    measurand: str,
    value: Decimal | str,
    unit: str | None = None,
    multiplier: int = 0,
    *,
    phase: str | None = None,
    location: str | None = None,
    context: str | None = None,
) -> Read:
    """A sample read as the 2.0.1 adapter reads one (it carries every label and a multiplier)."""
    unit_of_measure = {"unit": unit, "multiplier": multiplier}
    labels = {"measurand": measurand, "phase": phase, "location": location, "context": context}
    raw = {"value": str(value), "unitOfMeasure": _set(unit_of_measure), **_set(labels)}
    read = read_v201(raw)
    assert read is not None
    return read


def _set(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def energy_wh(*samples: Read) -> int | None:
    return summary(samples).energy_wh


# --- OCPP 1.6 -----------------------------------------------------------------------------


def test_v16_reads_every_field() -> None:
    raw = {
        "value": "1234.5",
        "context": "Sample.Periodic",
        "format": "Raw",
        "measurand": POWER,
        "phase": "L1",
        "location": "Outlet",
        "unit": "kW",
    }
    assert read_v16(raw) == sample(
        measurand=POWER,
        value=Decimal("1234.5"),
        unit="kW",
        phase="L1",
        context="Sample.Periodic",
        location="Outlet",
    )


def test_v16_defaults_to_the_energy_register_with_no_unit() -> None:
    assert read_v16({"value": "5"}) == sample(ENERGY_REGISTER, Decimal(5), None)


@pytest.mark.parametrize("fmt", ["SignedData", "Compressed"])
def test_v16_skips_formats_it_cannot_read(fmt: str) -> None:
    assert read_v16({"value": "3045021d02", "format": fmt}) is None


@pytest.mark.parametrize("value", [12, 12.0])
def test_v16_tolerates_json_numbers(value: int | float) -> None:
    parsed = read_v16({"value": value})
    assert parsed is not None
    assert parsed.value == 12


@pytest.mark.parametrize(
    "raw",
    [
        {"value": "abc"},
        {"value": ""},
        {"value": "NaN"},
        {"value": "sNaN"},
        {"value": "Infinity"},
        {"value": "-inf"},
        {"value": "1e999"},
        {"value": None},
        {"value": True},
        {"value": ["1"]},
        {},
        {"value": "1", "phase": 1},
        {"value": "1", "unit": "A"},
        {"value": "1", "unit": "kwh"},
        {"value": "1", "measurand": POWER, "unit": "kWh"},
        {"value": "1", "measurand": CURRENT, "unit": "W"},
        {"value": "1", "measurand": SOC, "unit": "Wh"},
    ],
)
def test_v16_rejects_unreadable_raw_values(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidSample):
        read_v16(raw)


@pytest.mark.parametrize(
    ("measurand", "unit"), [("Voltage", "V"), ("Temperature", "Celsius"), (INTERVAL, "kWh")]
)
def test_v16_accepts_any_unit_on_untracked_measurands(measurand: str, unit: str) -> None:
    assert read_v16({"value": "230", "measurand": measurand, "unit": unit}) is not None


# --- OCPP 2.0.1 ---------------------------------------------------------------------------


def test_v201_reads_every_field() -> None:
    raw = {
        "value": 12.3,
        "context": "Transaction.Begin",
        "measurand": ENERGY_REGISTER,
        "phase": "L2-N",
        "location": "Outlet",
        "unitOfMeasure": {"unit": "kWh", "multiplier": 3},
    }
    assert read_v201(raw) == sample(
        measurand=ENERGY_REGISTER,
        value=Decimal("12.3"),
        unit="kWh",
        multiplier=3,
        phase="L2-N",
        context="Transaction.Begin",
        location="Outlet",
    )


@pytest.mark.parametrize(
    ("unit_of_measure", "unit", "multiplier"),
    [(None, None, 0), ({}, None, 0), ({"unit": "Wh"}, "Wh", 0), ({"multiplier": -2}, None, -2)],
)
def test_v201_unit_of_measure_defaults(
    unit_of_measure: dict[str, Any] | None, unit: str | None, multiplier: int
) -> None:
    raw: dict[str, Any] = {"value": 7}
    if unit_of_measure is not None:
        raw["unitOfMeasure"] = unit_of_measure
    assert read_v201(raw) == sample(ENERGY_REGISTER, Decimal(7), unit, multiplier)


def test_v201_reads_signed_values_from_their_plain_value() -> None:
    parsed = read_v201({"value": 10, "signedMeterValue": {"signedMeterData": "x"}})
    assert parsed is not None
    assert parsed.value == 10


@pytest.mark.parametrize(
    "raw",
    [
        {"value": "abc"},
        {"value": float("nan")},
        {"value": float("inf")},
        {"value": False},
        {},
        {"value": 1, "unitOfMeasure": "kWh"},
        {"value": 1, "unitOfMeasure": {"multiplier": 1.5}},
        {"value": 1, "unitOfMeasure": {"multiplier": "3"}},
        {"value": 1, "unitOfMeasure": {"multiplier": True}},
        {"value": 1, "unitOfMeasure": {"multiplier": 16}},
        {"value": 1, "unitOfMeasure": {"multiplier": -16}},
        {"value": 1e15, "unitOfMeasure": {"multiplier": 1}},
        {"value": 1, "unitOfMeasure": {"unit": "A"}},
    ],
)
def test_v201_rejects_unreadable_values(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidSample):
        read_v201(raw)


# --- summarize ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([sample(ENERGY_REGISTER, "1234", "Wh")], 1234),
        ([sample(ENERGY_REGISTER, "1234")], 1234),
        ([sample(ENERGY_REGISTER, "1.2345", "kWh")], 1235),
        ([sample(ENERGY_REGISTER, "1.2344", "kWh")], 1234),
        ([sample(ENERGY_REGISTER, "0.5", "Wh")], 1),
        ([sample(ENERGY_REGISTER, "1.5", "Wh", multiplier=3)], 1500),
        ([sample(ENERGY_REGISTER, "12345", "Wh", multiplier=-1)], 1235),
        ([sample(ENERGY_REGISTER, "5", "kWh", multiplier=-3)], 5),
        ([sample(ENERGY_REGISTER, "-3", "Wh")], -3),
    ],
)
def test_energy_units_multiplier_and_half_up_rounding(samples: list[Read], expected: int) -> None:
    assert energy_wh(*samples) == expected


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        (
            [
                sample(ENERGY_REGISTER, v, phase=p)
                for v, p in [("1", "L1"), ("2", "L2"), ("4", "L3")]
            ],
            7,
        ),
        ([sample(ENERGY_REGISTER, v, phase=p) for v, p in [("1", "L1-N"), ("2", "L2-N")]], 3),
        (
            [
                sample(ENERGY_REGISTER, "0.4", phase="L1"),
                sample(ENERGY_REGISTER, "0.4", phase="L2"),
            ],
            1,
        ),
        ([sample(ENERGY_REGISTER, "100"), sample(ENERGY_REGISTER, "30", phase="L1")], 100),
        ([sample(ENERGY_REGISTER, "30", phase="L1"), sample(ENERGY_REGISTER, "100")], 100),
        ([sample(ENERGY_REGISTER, "5", phase="L1"), sample(ENERGY_REGISTER, "5", phase="L1-N")], 5),
        ([sample(ENERGY_REGISTER, "5", phase="L1"), sample(ENERGY_REGISTER, "9", phase="N")], 5),
        ([sample(ENERGY_REGISTER, "9", phase="N")], None),
        ([sample(ENERGY_REGISTER, "9", phase="L1-L2")], None),
    ],
)
def test_energy_prefers_the_total_else_sums_line_conductors(
    samples: list[Read], expected: int | None
) -> None:
    assert energy_wh(*samples) == expected


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([sample(ENERGY_REGISTER, "10", location="Outlet")], 10),
        ([sample(ENERGY_REGISTER, "10", location="Inlet")], None),
        ([sample(ENERGY_REGISTER, "10", location="EV")], None),
        ([sample(ENERGY_REGISTER, "99", location="Inlet"), sample(ENERGY_REGISTER, "10")], 10),
        ([sample(INTERVAL, "10", "Wh")], None),
        ([sample(INTERVAL, "10", "Wh"), sample(ENERGY_REGISTER, "500")], 500),
        ([sample("Voltage", "230", "V")], None),
    ],
)
def test_energy_counts_only_the_outlet_register(samples: list[Read], expected: int | None) -> None:
    assert energy_wh(*samples) == expected


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([sample(POWER, "7400", "W")], 7400),
        ([sample(POWER, "7.4", "kW")], 7400),
        ([sample(POWER, "7400")], 7400),
        ([sample(POWER, "7.4", "W", multiplier=3)], 7400),
        ([sample(POWER, v, "kW", phase=p) for v, p in [("3.7", "L1"), ("3.7", "L2")]], 7400),
        ([sample(POWER, "1", "kW", location="Inlet")], None),
    ],
)
def test_power(samples: list[Read], expected: int | None) -> None:
    assert summary(samples).power_w == expected


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([sample(CURRENT, "16", "A")], 16000),
        ([sample(CURRENT, "15.9996")], 16000),
        ([sample(CURRENT, "0.0004", "A")], 0),
        ([sample(CURRENT, "16", phase=p) for p in ["L1", "L2", "L3", "N"]], 48000),
        ([sample(CURRENT, "32"), *(sample(CURRENT, "16", phase=p) for p in ["L1", "L2"])], 32000),
    ],
)
def test_current_in_milliampere(samples: list[Read], expected: int | None) -> None:
    assert summary(samples).current_ma == expected


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([sample(SOC, "49.5", "Percent", location="EV")], 50),
        ([sample(SOC, "49.4")], 49),
        ([sample(SOC, "80", location="Inlet")], 80),
        ([sample(SOC, "80", location="EV"), sample(SOC, "81", location="EV")], 80),
    ],
)
def test_soc_is_rounded_and_taken_from_any_location(
    samples: list[Read], expected: int | None
) -> None:
    assert summary(samples).soc_percent == expected


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([sample(ENERGY_REGISTER, "1", context="Transaction.Begin")], "Transaction.Begin"),
        ([sample(ENERGY_REGISTER, "1", phase="L1", context="Sample.Clock")], "Sample.Clock"),
        ([sample(POWER, "1", context="Sample.Periodic")], None),
        ([sample(ENERGY_REGISTER, "1")], None),
    ],
)
def test_context_comes_from_the_energy_sample(samples: list[Read], expected: str | None) -> None:
    assert summary(samples).context == expected


def test_summarize_combines_measurands_from_both_versions() -> None:
    raw_v16 = [
        {"value": "12.5", "unit": "kWh", "context": "Sample.Periodic"},
        {"value": "11", "measurand": POWER, "unit": "kW"},
        {"value": "0x1f", "format": "SignedData"},
    ]
    raw_v201 = [
        {"value": 16, "measurand": CURRENT, "unitOfMeasure": {"unit": "A"}},
        {"value": 64.5, "measurand": SOC, "location": "EV"},
    ]
    parsed = [read_v16(r) for r in raw_v16] + [read_v201(r) for r in raw_v201]
    assert summary(s for s in parsed if s is not None) == MeterReading(
        energy_wh=12500, power_w=11000, current_ma=16000, soc_percent=65, context="Sample.Periodic"
    )


def test_summarize_of_nothing_is_empty() -> None:
    assert summary([]) == EMPTY


@pytest.mark.parametrize(
    ("measurand", "unit"),
    [(ENERGY_REGISTER, "A"), (POWER, "Wh"), (CURRENT, "mA"), (SOC, "%"), (POWER, "kw")],
)
def test_a_unit_that_does_not_fit_the_measurand_is_invalid(measurand: str, unit: str) -> None:
    with pytest.raises(InvalidSample):
        sample(measurand, "1", unit)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e16"])
def test_a_non_finite_or_absurd_value_is_invalid(value: str) -> None:
    with pytest.raises(InvalidSample):
        sample(ENERGY_REGISTER, value)


@given(kwh=amounts)
def test_kwh_wh_and_multiplier_agree(kwh: Decimal) -> None:
    readings = {
        energy_wh(sample(ENERGY_REGISTER, kwh, "kWh")),
        energy_wh(sample(ENERGY_REGISTER, kwh * 1000, "Wh")),
        energy_wh(sample(ENERGY_REGISTER, kwh, "Wh", multiplier=3)),
        energy_wh(sample(ENERGY_REGISTER, kwh * 10, "kWh", multiplier=-1)),
    }
    assert len(readings) == 1


@given(
    measurand=st.sampled_from([ENERGY_REGISTER, POWER, CURRENT]),
    values=st.lists(amounts, min_size=1, max_size=3),
    phase_names=st.sampled_from([("L1", "L2", "L3"), ("L1-N", "L2-N", "L3-N")]),
)
def test_sum_of_phases_equals_the_total(
    measurand: str, values: list[Decimal], phase_names: tuple[str, ...]
) -> None:
    phases = [
        sample(measurand, v, None, phase=p) for v, p in zip(values, phase_names, strict=False)
    ]
    assert summary(phases) == summary([sample(measurand, sum(values, Decimal(0)), None)])


@given(wh=st.integers(min_value=0, max_value=10**12))
def test_whole_wh_survive_both_wire_formats(wh: int) -> None:
    v16 = read_v16({"value": str(wh)})
    v201 = read_v201({"value": wh, "unitOfMeasure": {"unit": "Wh"}})
    assert v16 is not None
    assert v201 is not None
    assert energy_wh(v16) == energy_wh(v201) == wh


# --- implausibility -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous_wh", "previous_at", "new_wh", "new_at", "expected"),
    [
        (None, None, 10**9, T0, None),
        (None, None, -1, T0, "negative"),
        (100, T0, -1, T0 + timedelta(hours=1), "negative"),
        # Rounding between kWh samples and the Wh register may cost up to 10 Wh.
        (100, T0, 90, T0 + timedelta(hours=1), None),
        (100, T0, 89, T0 + timedelta(hours=1), "decreasing"),
        (100, None, 89, T0, "decreasing"),
        (100, T0, 100, T0 + timedelta(hours=1), None),
        (100, None, 10**9, T0, None),
        # 11 kW for an hour is 11 000 Wh; +1 % and +10 Wh allow 11 120.
        (0, T0, 11_120, T0 + timedelta(hours=1), None),
        (0, T0, 11_121, T0 + timedelta(hours=1), "jump"),
        # No or negative elapsed time counts as one second: 11000/3600 * 1.01 + 10 = 13.09 Wh.
        (0, T0, 13, T0, None),
        (0, T0, 14, T0, "jump"),
        (0, T0, 13, T0 - timedelta(minutes=5), None),
        (0, T0, 14, T0 - timedelta(minutes=5), "jump"),
    ],
)
def test_implausibility(
    previous_wh: int | None,
    previous_at: datetime | None,
    new_wh: int,
    new_at: datetime,
    expected: str | None,
) -> None:
    reason = implausibility(
        previous_wh=previous_wh,
        previous_at=previous_at,
        new_wh=new_wh,
        new_at=new_at,
        max_power_w=11_000,
    )
    assert reason == expected


def _deliverable_wh(max_power_w: int, elapsed: timedelta) -> Fraction:
    return max_power_w * Fraction(elapsed // timedelta(microseconds=1), 3_600_000_000)


elapsed_times = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=3))
powers = st.integers(min_value=0, max_value=10**6)
registers = st.integers(min_value=0, max_value=10**12)


@given(
    previous_wh=registers,
    elapsed=elapsed_times,
    max_power_w=powers,
    share=st.fractions(min_value=0, max_value=1),
)
def test_a_delta_within_max_power_is_plausible(
    previous_wh: int, elapsed: timedelta, max_power_w: int, share: Fraction
) -> None:
    delta = floor(_deliverable_wh(max_power_w, elapsed) * share)
    reason = implausibility(
        previous_wh=previous_wh,
        previous_at=T0,
        new_wh=previous_wh + delta,
        new_at=T0 + elapsed,
        max_power_w=max_power_w,
    )
    assert reason is None


@given(
    previous_wh=registers,
    elapsed=elapsed_times,
    max_power_w=powers,
    excess=st.integers(min_value=1, max_value=10**6),
)
def test_a_delta_beyond_the_tolerance_is_a_jump(
    previous_wh: int, elapsed: timedelta, max_power_w: int, excess: int
) -> None:
    allowed = _deliverable_wh(max_power_w, elapsed) * Fraction(101, 100) + 10
    reason = implausibility(
        previous_wh=previous_wh,
        previous_at=T0,
        new_wh=previous_wh + floor(allowed) + excess,
        new_at=T0 + elapsed,
        max_power_w=max_power_w,
    )
    assert reason == "jump"


@given(
    previous_wh=st.none() | st.integers(),
    previous_at=st.none() | st.datetimes(),
    new_wh=st.integers(max_value=-1),
    new_at=st.datetimes(),
    max_power_w=powers,
)
def test_a_negative_register_is_always_flagged(
    previous_wh: int | None,
    previous_at: datetime | None,
    new_wh: int,
    new_at: datetime,
    max_power_w: int,
) -> None:
    reason = implausibility(
        previous_wh=previous_wh,
        previous_at=previous_at,
        new_wh=new_wh,
        new_at=new_at,
        max_power_w=max_power_w,
    )
    assert reason == "negative"
