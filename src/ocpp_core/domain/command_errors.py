"""What can go wrong when the server sends a command to a charger."""

from __future__ import annotations

from typing import Any


class CommandError(Exception):
    """Base of the failures a command's caller must handle."""


class ChargerOffline(CommandError):
    """No live connection to that charger (on any node)."""


class CommandTimeout(CommandError):
    """The charger did not answer within the command timeout."""


class ChargerRejectedCall(CommandError):
    """The charger answered with a CALLERROR, or with a response that breaks the schema."""

    def __init__(
        self,
        code: str,
        description: str,
        details: dict[str, Any] | None = None,
        answer: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.details = details or {}  # a CALLERROR's errorDetails
        self.answer = answer  # the response that broke the schema, if that was the refusal


class CommandNotSupported(CommandError):
    """The charger's protocol version has no such command."""


class RouteUnavailable(ChargerOffline):
    """The cluster's Redis can't be reached: the charger may be on another node, out of reach.

    A kind of ChargerOffline, since nothing can get to the charger from here; the
    API tells it apart (503), so nobody takes it for a charger that went away.
    """

    def __init__(self, charge_point_id: str, reason: str) -> None:
        super().__init__(f"{charge_point_id}: the cluster can't be reached ({reason})")
        self.reason = reason
