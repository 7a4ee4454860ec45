"""Meter values from OCPP 1.6 and 2.0.1, normalised to one version-independent reading.

Energy is kept as integer Wh and every intermediate value as ``Decimal``: readings feed
billing, where binary floats would make totals drift and rounding disagree with the meter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Final, NamedTuple

ENERGY_REGISTER: Final = "Energy.Active.Import.Register"
POWER: Final = "Power.Active.Import"
CURRENT: Final = "Current.Import"
SOC: Final = "SoC"
# The context of the register a charger reads when a transaction ends.
END_CONTEXT: Final = "Transaction.End"

# Per tracked measurand: the spec default unit, and the power of ten that takes each accepted
# unit to our canonical one (Wh, W, mA, %). Anything else is a charger bug, not a conversion.
_UNITS: Final[Mapping[str, tuple[str, Mapping[str, int]]]] = {
    ENERGY_REGISTER: ("Wh", {"Wh": 0, "kWh": 3}),
    POWER: ("W", {"W": 0, "kW": 3}),
    CURRENT: ("A", {"A": 3}),
    SOC: ("Percent", {"Percent": 0}),
}

# Phase-to-neutral readings name their conductor either way; line-to-line (L1-L2) and neutral
# readings are left out because adding them to the line readings would count energy twice.
_CONDUCTORS: Final[Mapping[str, str]] = {
    "L1": "L1",
    "L2": "L2",
    "L3": "L3",
    "L1-N": "L1",
    "L2-N": "L2",
    "L3-N": "L3",
}

# Only the outlet meters what the EV received (no location means Outlet in OCPP). An Inlet
# meter also counts the station's own use and, on multi-connector stations, other sessions.
_OUTLET: Final = frozenset({None, "Outlet"})

# Beyond 10**15 canonical units a value is meter garbage; bounding it keeps Decimal
# arithmetic exact within its 28-digit precision and int conversion cheap.
_MAX_EXPONENT: Final = 15

_ABSOLUTE_TOLERANCE_WH: Final = 10
_RELATIVE_TOLERANCE: Final = Fraction(101, 100)


# Chargers report samples in kWh with two or three decimals beside a Wh register:
# readings of one meter may disagree by this much through rounding alone.
REGISTER_TOLERANCE_WH = 10


class InvalidSample(ValueError):
    """A sample that claims to be readable but is not a finite number in a sensible unit."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One sampled value as sent, validated on construction so summarizing cannot fail."""

    measurand: str
    value: Decimal
    unit: str | None
    multiplier: int = 0
    phase: str | None = None
    context: str | None = None
    location: str | None = None

    def __post_init__(self) -> None:
        if not self.value.is_finite():
            raise InvalidSample(f"{self.measurand}: value {self.value} is not finite")
        if abs(self.multiplier) > _MAX_EXPONENT or (
            self.value.adjusted() + self.multiplier > _MAX_EXPONENT
        ):
            raise InvalidSample(f"{self.measurand}: value {self.value} is out of range")
        if self.measurand in _UNITS:
            _unit_exponent(self.measurand, self.unit)


@dataclass(frozen=True, slots=True)
class MeterReading:
    """One point in time, canonical units."""

    energy_wh: int | None
    power_w: int | None
    current_ma: int | None
    soc_percent: int | None
    context: str | None


class _Total(NamedTuple):
    """A measurand's value for the whole reading, in canonical units, before rounding."""

    value: Decimal
    context: str | None


def sample_from_v16(raw: Mapping[str, Any]) -> Sample | None:
    """Read a 1.6 SampledValue; None for signed or unknown formats we cannot interpret."""
    if raw.get("format", "Raw") != "Raw":
        return None
    return Sample(
        measurand=_text(raw, "measurand") or ENERGY_REGISTER,
        value=_number(raw.get("value")),
        unit=_text(raw, "unit"),
        phase=_text(raw, "phase"),
        context=_text(raw, "context"),
        location=_text(raw, "location"),
    )


def sample_from_v201(raw: Mapping[str, Any]) -> Sample | None:
    """Read a 2.0.1 SampledValue; its value is always numeric, even when also signed."""
    unit_of_measure = raw.get("unitOfMeasure", {})
    if not isinstance(unit_of_measure, Mapping):
        raise InvalidSample(f"unitOfMeasure {unit_of_measure!r} is not an object")
    multiplier = unit_of_measure.get("multiplier", 0)
    if type(multiplier) is not int:
        raise InvalidSample(f"multiplier {multiplier!r} is not an integer")
    return Sample(
        measurand=_text(raw, "measurand") or ENERGY_REGISTER,
        value=_number(raw.get("value")),
        unit=_text(unit_of_measure, "unit"),
        multiplier=multiplier,
        phase=_text(raw, "phase"),
        context=_text(raw, "context"),
        location=_text(raw, "location"),
    )


def summarize(samples: Iterable[Sample]) -> MeterReading:
    """Reduce one MeterValue's samples to canonical units, ignoring untracked measurands."""
    groups: defaultdict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[sample.measurand].append(sample)
    energy = _outlet_total(groups[ENERGY_REGISTER])
    return MeterReading(
        energy_wh=_rounded(energy),
        power_w=_rounded(_outlet_total(groups[POWER])),
        # Summed like power so the reading means the same whichever way the charger reports;
        # it is the aggregate over conductors, not the per-phase figure charging limits use.
        current_ma=_rounded(_outlet_total(groups[CURRENT])),
        # The EV, not the meter, knows its SoC, so any location is acceptable.
        soc_percent=_rounded(_first(groups[SOC])),
        context=energy.context if energy is not None else None,
    )


JUMP = "jump"  # a register rising faster than any charger delivers


def implausibility(
    *,
    previous_wh: int | None,
    previous_at: datetime | None,
    new_wh: int,
    new_at: datetime,
    max_power_w: int,
) -> str | None:
    """Name why a register reading cannot be real, so it is not billed; None if plausible."""
    if new_wh < 0:
        return "negative"
    if previous_wh is None:
        return None
    if new_wh < previous_wh - REGISTER_TOLERANCE_WH:
        return "decreasing"
    if previous_at is not None and new_wh - previous_wh > _max_delta_wh(
        max_power_w, new_at - previous_at
    ):
        return JUMP
    return None


def _max_delta_wh(max_power_w: int, elapsed: timedelta) -> Fraction:
    # Clock skew can make a sample look simultaneous or earlier; one second still bounds it.
    seconds = max(Fraction(elapsed // timedelta(microseconds=1), 1_000_000), Fraction(1))
    deliverable = max_power_w * seconds / 3600
    return deliverable * _RELATIVE_TOLERANCE + _ABSOLUTE_TOLERANCE_WH


def _outlet_total(samples: Sequence[Sample]) -> _Total | None:
    outlet = [sample for sample in samples if sample.location in _OUTLET]
    total = next((sample for sample in outlet if sample.phase is None), None)
    if total is not None:
        return _Total(_canonical(total), total.context)
    per_conductor: dict[str, Sample] = {}
    for sample in outlet:
        conductor = _CONDUCTORS.get(sample.phase or "")
        if conductor is not None:
            per_conductor.setdefault(conductor, sample)
    if not per_conductor:
        return None
    phases = list(per_conductor.values())
    return _Total(sum((_canonical(s) for s in phases), Decimal(0)), phases[0].context)


def _first(samples: Sequence[Sample]) -> _Total | None:
    return _Total(_canonical(samples[0]), samples[0].context) if samples else None


def _canonical(sample: Sample) -> Decimal:
    exponent = _unit_exponent(sample.measurand, sample.unit) + sample.multiplier
    return sample.value.scaleb(exponent)


def _unit_exponent(measurand: str, unit: str | None) -> int:
    default, exponents = _UNITS[measurand]
    try:
        return exponents[unit or default]
    except KeyError:
        raise InvalidSample(f"{measurand}: unit {unit!r} does not fit") from None


def _rounded(total: _Total | None) -> int | None:
    if total is None:
        return None
    return int(total.value.to_integral_value(rounding=ROUND_HALF_UP))


def _number(value: object) -> Decimal:
    # 1.6 sends strings and 2.0.1 numbers; str() of a float is the shortest decimal that
    # round-trips, i.e. what the charger wrote, not the binary approximation.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidSample(f"value {value!r} is not a number")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise InvalidSample(f"value {value!r} is not a number") from None


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidSample(f"{key} {value!r} is not a string")
    return value
