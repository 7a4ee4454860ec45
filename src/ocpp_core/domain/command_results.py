"""How a command sent to a charger ended, in the same words for every version and every path.

The router sends a command and gives back its result: the charger's answer, with its
status as the charger's version's adapter reads it (a 2.x charger answers a variable's
write per variable, a 1.6 one with one status), or that the charger could not be asked
(offline), did not answer in time, or refused the call (a CALLERROR). Callers decide on
the result; none reads a version's field names or catches the transport's errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    ANSWERED = "Answered"
    OFFLINE = "ChargerOffline"  # no live connection to the charger, on any node
    UNREACHABLE = "ClusterUnavailable"  # the cluster can't tell where the charger is
    TIMEOUT = "Timeout"  # sent; no answer within the command timeout
    REFUSED = "Refused"  # a CALLERROR, or an answer that broke the schema


ACCEPTED = "Accepted"


@dataclass(frozen=True, slots=True)
class CommandResult:
    outcome: Outcome
    status: str | None = None  # the charger's word when it answered: Accepted, Rejected, ...
    answer: Mapping[str, Any] = field(default_factory=dict)  # what it answered, as sent
    error: str | None = None  # a refusal's error code, or why the charger couldn't be reached
    description: str | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ANSWERED and self.status == ACCEPTED
