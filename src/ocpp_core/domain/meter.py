"""Meter values, normalised to one version-independent reading (the adapters read the samples).

Energy is kept as integer Wh and every intermediate value as ``Decimal``: readings feed
billing, where binary floats would make totals drift and rounding disagree with the meter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Final, NamedTuple

ENERGY_REGISTER: Final = "Energy.Active.Import.Register"
POWER: Final = "Power.Active.Import"
CURRENT: Final = "Current.Import"
SOC: Final = "SoC"
# The context of the register a charger reads when a transaction ends.
END_CONTEXT: Final = "Transaction.End"

# The measurands a reading keeps, in the order of a summary's slots.
_TRACKED: Final = (ENERGY_REGISTER, POWER, CURRENT, SOC)
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
# The types a sample's value may have (a tuple: ``str | int | float`` in the test would
# build a new union at every call).
_NUMBERS: Final = (str, int, float)

# Beyond 10**15 canonical units a value is meter garbage; bounding it keeps Decimal
# arithmetic exact within its 28-digit precision and int conversion cheap.
_MAX_EXPONENT: Final = 15

_ABSOLUTE_TOLERANCE_WH: Final = 10
_RELATIVE_TOLERANCE: Final = (101, 100)  # numerator, denominator
_MICROSECOND: Final = timedelta(microseconds=1)
_MICROSECONDS_PER_SECOND: Final = 1_000_000
_MICROSECONDS_PER_HOUR: Final = 3600 * _MICROSECONDS_PER_SECOND


# Chargers report samples in kWh with two or three decimals beside a Wh register:
# readings of one meter may disagree by this much through rounding alone.
REGISTER_TOLERANCE_WH = 10


class InvalidSample(ValueError):
    """A sample that claims to be readable but is not a finite number in a sensible unit."""


class Labels(NamedTuple):
    """What a sample's labels say, worked out once for every sample that carries them.

    A fleet sends the same few label sets over and over with new values (9 samples a
    MeterValues), so their checks and look-ups are cached (see :func:`_labels_of`).
    """

    measurand: str
    unit: str | None
    phase: str | None
    context: str | None
    location: str | None
    slot: int  # index into _TRACKED, or -1 for a measurand we don't keep
    exponent: int  # the unit's power of ten to our canonical unit; 0 when untracked
    outlet: bool
    conductor: str | None  # the line a per-phase sample adds to; None: total, N or line-to-line


class Read(NamedTuple):
    """One sampled value as sent, validated: its labels and its value (times 10**multiplier)."""

    labels: Labels
    value: Decimal
    multiplier: int


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


def sample(
    value: object,
    multiplier: int,
    measurand: object,
    unit: object,
    phase: object,
    context: object,
    location: object,
) -> Read:
    """One sampled value as a version's adapter read it (its value times 10**multiplier),
    checked: a finite number, in a unit its measurand takes, with text labels."""
    number = _number(value)
    labels = _labels_of(measurand, unit, phase, context, location)
    return Read(labels, _checked(number, multiplier, labels.measurand), multiplier)


def summary(reads: Iterable[Read]) -> MeterReading:
    """Reduce one MeterValue's samples to canonical units, ignoring untracked measurands."""
    tracked: tuple[list[Read], ...] = ([], [], [], [])  # one per _TRACKED
    for read in reads:
        slot = read.labels.slot
        if slot >= 0:
            tracked[slot].append(read)
    energy_reads, power_reads, current_reads, soc_reads = tracked
    energy = _outlet_total(energy_reads)
    return MeterReading(
        energy_wh=_rounded(energy),
        power_w=_rounded(_outlet_total(power_reads)),
        # Summed like power so the reading means the same whichever way the charger reports;
        # it is the aggregate over conductors, not the per-phase figure charging limits use.
        current_ma=_rounded(_outlet_total(current_reads)),
        # The EV, not the meter, knows its SoC, so any location is acceptable.
        soc_percent=_rounded(_first(soc_reads)),
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
    if previous_at is not None and _beyond_power(
        new_wh - previous_wh, max_power_w, new_at - previous_at
    ):
        return JUMP
    return None


def _beyond_power(delta_wh: int, max_power_w: int, elapsed: timedelta) -> bool:
    """More than ``max_power_w`` delivers in ``elapsed``, tolerances included.

    delta > max_power_w * hours * 101/100 + 10, multiplied out to integers: as exact
    as fractions, at a tenth of their cost (every MeterValues asks).
    """
    # Clock skew can make a sample look simultaneous or earlier; one second still bounds it.
    microseconds = max(elapsed // _MICROSECOND, _MICROSECONDS_PER_SECOND)
    numerator, denominator = _RELATIVE_TOLERANCE
    return (delta_wh - _ABSOLUTE_TOLERANCE_WH) * _MICROSECONDS_PER_HOUR * denominator > (
        max_power_w * microseconds * numerator
    )


def _outlet_total(reads: Sequence[Read]) -> _Total | None:
    per_conductor: dict[str, Read] = {}
    for read in reads:
        labels = read.labels
        if not labels.outlet:
            continue
        if labels.phase is None:
            return _Total(_canonical(read), labels.context)
        if labels.conductor is not None:
            per_conductor.setdefault(labels.conductor, read)
    if not per_conductor:
        return None
    phases = list(per_conductor.values())
    return _Total(sum((_canonical(r) for r in phases), Decimal(0)), phases[0].labels.context)


def _first(reads: Sequence[Read]) -> _Total | None:
    return _Total(_canonical(reads[0]), reads[0].labels.context) if reads else None


def _canonical(read: Read) -> Decimal:
    shift = read.labels.exponent + read.multiplier
    # Most samples come in their canonical unit already: no Decimal operation for those.
    return read.value.scaleb(shift) if shift else read.value


def _labels_of(
    measurand: object, unit: object, phase: object, context: object, location: object
) -> Labels:
    try:
        return _cached_labels(measurand, unit, phase, context, location)
    except TypeError:  # unhashable, so not a string: the uncached check says which
        return _labels(measurand, unit, phase, context, location)


def _labels(
    measurand: object, unit: object, phase: object, context: object, location: object
) -> Labels:
    name = _text("measurand", measurand) or ENERGY_REGISTER
    unit, phase = _text("unit", unit), _text("phase", phase)
    context, location = _text("context", context), _text("location", location)
    slot = _TRACKED.index(name) if name in _TRACKED else -1
    exponent = _unit_exponent(name, unit) if slot >= 0 else 0
    return Labels(
        name,
        unit,
        phase,
        context,
        location,
        slot,
        exponent,
        location in _OUTLET,
        _CONDUCTORS.get(phase) if phase is not None else None,
    )


# Only labels that pass are cached, and a string never equals a non-string: a cache hit
# means the same checks passed before. Bounded: labels come from chargers.
_cached_labels = lru_cache(maxsize=1024)(_labels)


def _unit_exponent(measurand: str, unit: str | None) -> int:
    default, exponents = _UNITS[measurand]
    try:
        return exponents[unit or default]
    except KeyError:
        raise InvalidSample(f"{measurand}: unit {unit!r} does not fit") from None


def _rounded(total: _Total | None) -> int | None:
    if total is None:
        return None
    whole = int(total.value)
    # Registers are mostly whole numbers already, which need no rounding (the cheaper test).
    if whole == total.value:
        return whole
    return int(total.value.to_integral_value(rounding=ROUND_HALF_UP))


def _number(value: object) -> Decimal:
    # 1.6 sends strings and 2.0.1 numbers; str() of a float is the shortest decimal that
    # round-trips, i.e. what the charger wrote, not the binary approximation.
    if isinstance(value, bool) or not isinstance(value, _NUMBERS):
        raise InvalidSample(f"value {value!r} is not a number")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise InvalidSample(f"value {value!r} is not a number") from None


def _text(key: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidSample(f"{key} {value!r} is not a string")
    return value


def _checked(value: Decimal, multiplier: int, measurand: str) -> Decimal:
    if not value.is_finite():
        raise InvalidSample(f"{measurand}: value {value} is not finite")
    if abs(multiplier) > _MAX_EXPONENT or value.adjusted() + multiplier > _MAX_EXPONENT:
        raise InvalidSample(f"{measurand}: value {value} is out of range")
    return value
