"""The charging profiles a virtual charger holds, and the schedule they make together.

In both versions' terms (the links translate): a profile sits on a connector (0: the
whole charger) under a purpose and a stack level; one with the same id, or the same
place, is replaced. The composite is deliberately simple: per connector, the highest
stack level of the charger's maximum and of the transaction's profile (a TxProfile
before a TxDefaultProfile, the connector's before the whole charger's), the lower of
the two at each moment, in the unit asked for (profiles in the other unit are left out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

CHARGER_MAX = "ChargePointMaxProfile"
TX_DEFAULT = "TxDefaultProfile"
TX = "TxProfile"

MAX_STACK_LEVEL = 10
MAX_INSTALLED = 16


@dataclass(frozen=True, slots=True)
class Installed:
    profile_id: int
    connector_id: int
    purpose: str
    stack_level: int
    unit: str
    start: datetime | None  # None: from when it was set (a Relative profile)
    periods: tuple[tuple[int, float], ...]  # (start s, limit)
    received: datetime
    raw: dict[str, Any]  # as the central system sent it, for a report of what is installed

    def limit_at(self, moment: datetime) -> float | None:
        offset = (moment - (self.start or self.received)).total_seconds()
        active = [limit for start, limit in self.periods if start <= offset]
        return active[-1] if active else None


class InstalledProfiles:
    def __init__(self) -> None:
        self._held: dict[int, Installed] = {}

    def __len__(self) -> int:
        return len(self._held)

    def install(self, profile: Installed) -> bool:
        """Whether the charger takes it (a real one refuses past its stack levels and room)."""
        if profile.stack_level > MAX_STACK_LEVEL:
            return False
        place = (profile.connector_id, profile.purpose, profile.stack_level)
        kept = {
            pid: held
            for pid, held in self._held.items()
            if pid != profile.profile_id
            and (held.connector_id, held.purpose, held.stack_level) != place
        }
        if len(kept) >= MAX_INSTALLED:
            return False
        self._held = {**kept, profile.profile_id: profile}
        return True

    def clear(
        self,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> bool:
        """Whether any profile matched (and is gone)."""
        gone = [
            pid
            for pid, held in self._held.items()
            if profile_id in (None, pid)
            and connector_id in (None, held.connector_id)
            and purpose in (None, held.purpose)
            and stack_level in (None, held.stack_level)
        ]
        for pid in gone:
            del self._held[pid]
        return bool(gone)

    def matching(
        self, connector_id: int | None, purpose: str | None, stack_level: int | None, ids: list[int]
    ) -> list[Installed]:
        return [
            held
            for held in self._held.values()
            if connector_id in (None, held.connector_id)
            and purpose in (None, held.purpose)
            and stack_level in (None, held.stack_level)
            and (not ids or held.profile_id in ids)
        ]

    def _top(
        self, unit: str, purposes: tuple[str, ...], connectors: tuple[int, ...]
    ) -> Installed | None:
        for purpose in purposes:
            for connector in connectors:
                found = [
                    held
                    for held in self._held.values()
                    if (held.purpose, held.connector_id, held.unit) == (purpose, connector, unit)
                ]
                if found:
                    return max(found, key=lambda held: held.stack_level)
        return None

    def composite(
        self, connector_id: int, duration: int, unit: str, now: datetime
    ) -> list[tuple[int, float]]:
        """(start s from now, limit) periods; empty when no profile applies."""
        applying = [
            profile
            for profile in (
                self._top(unit, (CHARGER_MAX,), (0,)),
                self._top(unit, (TX, TX_DEFAULT), (connector_id, 0)),
            )
            if profile is not None
        ]
        starts = {0}
        for profile in applying:
            shift = (now - (profile.start or profile.received)).total_seconds()
            # Rounded up: a period begins within the second it is reported in.
            starts |= {math.ceil(start - shift) for start, _ in profile.periods}
        periods: list[tuple[int, float]] = []
        for start in sorted(s for s in starts if 0 <= s < duration):
            moment = now + timedelta(seconds=start)
            limits = [limit for p in applying if (limit := p.limit_at(moment)) is not None]
            if limits and (not periods or periods[-1][1] != min(limits)):
                periods.append((start, min(limits)))
        return periods
