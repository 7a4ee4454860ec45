"""A virtual charger's local authorization list, kept as OCPP says a charger keeps it.

A differential update must carry a version above the list's (else VersionMismatch);
an update that would leave more entries than ``LocalAuthListMaxLength`` is refused
(Failed) and changes nothing. Entries without a status are removals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class ListUpdate(StrEnum):
    ACCEPTED = "Accepted"
    FAILED = "Failed"
    VERSION_MISMATCH = "VersionMismatch"


@dataclass
class LocalAuthList:
    version: int = 0
    entries: dict[str, str] = field(default_factory=dict)  # tag: status

    def update(
        self, version: int, *, full: bool, changes: Mapping[str, str | None], max_length: int
    ) -> ListUpdate:
        if not full and version <= self.version:
            return ListUpdate.VERSION_MISMATCH
        kept = {} if full else dict(self.entries)
        for tag, status in changes.items():
            if status is None:
                kept.pop(tag, None)
            else:
                kept[tag] = status
        if len(kept) > max_length:
            return ListUpdate.FAILED
        self.version, self.entries = version, kept
        return ListUpdate.ACCEPTED
