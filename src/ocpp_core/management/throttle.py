"""Login throttling: failed logins per name and address, and per address, in a time window.

Failures are rows in the shared database, not process memory, so the limits
hold across restarts and across several management nodes. An attempt is
written *before* its password is checked and deleted if it turns out to be
throttled or right: concurrent guesses then see each other, and a burst can't
slip more tries past the limit than it allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.config import ManagementSettings
from ocpp_core.db.models import LoginFailure

MAX_NAME = 100  # the column sizes
MAX_ADDRESS = 64


@dataclass(frozen=True, slots=True)
class Limits:
    per_name: int
    per_address: int
    window: timedelta

    @classmethod
    def from_settings(cls, settings: ManagementSettings) -> Limits:
        return cls(
            settings.login_max_failures,
            settings.login_max_failures_per_address,
            timedelta(minutes=settings.login_window_minutes),
        )


def wait_time(
    failures: Sequence[tuple[str, datetime]], *, name: str, limits: Limits, now: datetime
) -> timedelta | None:
    """How long until another try is allowed, given earlier failures from one address."""
    recent = sorted(at for _, at in failures if at > now - limits.window)
    for_name = sorted(at for who, at in failures if who == name and at > now - limits.window)
    waits = [
        _until_below(times, limit, limits.window, now)
        for times, limit in ((recent, limits.per_address), (for_name, limits.per_name))
    ]
    return max((wait for wait in waits if wait is not None), default=None)


def _until_below(
    times: list[datetime], limit: int, window: timedelta, now: datetime
) -> timedelta | None:
    if len(times) < limit:
        return None
    # Enough of the oldest failures must age out to bring the count under the limit.
    return max(times[len(times) - limit] + window - now, timedelta(seconds=1))


async def begin(session: AsyncSession, *, name: str, address: str, now: datetime) -> int:
    """Count this attempt as a failure until it is known to be otherwise; returns its id."""
    row = LoginFailure(name=name[:MAX_NAME], address=address[:MAX_ADDRESS], failed_at=now)
    session.add(row)
    await session.flush()
    return row.id


async def check(
    session: AsyncSession, *, attempt: int, name: str, address: str, limits: Limits, now: datetime
) -> timedelta | None:
    """The wait if this attempt is over the limits (the attempt is then withdrawn), else None."""
    await session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - limits.window))
    rows = await session.execute(
        select(LoginFailure.name, LoginFailure.failed_at).where(
            LoginFailure.address == address[:MAX_ADDRESS],
            LoginFailure.failed_at > now - limits.window,
            LoginFailure.id != attempt,
        )
    )
    wait = wait_time(
        [(who, at) for who, at in rows.all()], name=name[:MAX_NAME], limits=limits, now=now
    )
    if wait is not None:
        await withdraw(session, attempt=attempt)
    return wait


async def withdraw(session: AsyncSession, *, attempt: int) -> None:
    await session.execute(delete(LoginFailure).where(LoginFailure.id == attempt))


async def forget(session: AsyncSession, *, name: str, address: str) -> None:
    """A successful login clears that name's failures from that address."""
    await session.execute(
        delete(LoginFailure).where(
            LoginFailure.name == name[:MAX_NAME], LoginFailure.address == address[:MAX_ADDRESS]
        )
    )
