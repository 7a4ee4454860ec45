"""Time as the rest of the code sees it: aware UTC, injectable for tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_timestamp(value: str) -> datetime:
    """Read an OCPP timestamp; chargers that omit the offset mean UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """UTC with a ``Z`` suffix and milliseconds: some chargers reject ``+00:00``."""
    # isoformat, unlike strftime, is cheap enough for a field of every Heartbeat answer.
    return value.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"
