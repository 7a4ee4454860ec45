"""Operator logins, kept in the database so that ending one really ends it.

The browser holds a random token; the row holds only its SHA-256, so a copy of
the table opens no session (the token has 256 random bits: nothing to guess, so
no slow hash is needed). A session ends at logout, after ``idle`` without a
request, ``lifetime`` after the login however busy, and whenever the operator's
password, role or access changes. Each request reads its row once; the row's
last-seen time is written at most once per :data:`TOUCH_EVERY`, not per request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import OperatorSession, User

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 100  # a cookie longer than any token we make is not looked up
TOUCH_EVERY = timedelta(minutes=1)
PURGE_BATCH = 500


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle: timedelta
    lifetime: timedelta

    def expiry(self, *, created: datetime, seen: datetime) -> datetime:
        return min(seen + self.idle, created + self.lifetime)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start(
    session: AsyncSession, *, user_id: int, policy: SessionPolicy, now: datetime
) -> str:
    """A new session for the user; returns its token (the only time it exists in clear)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        OperatorSession(
            token_hash=digest(token),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=policy.expiry(created=now, seen=now),
        )
    )
    await session.flush()
    return token


async def resolve(
    session: AsyncSession, *, token: str, policy: SessionPolicy, now: datetime
) -> User | None:
    """The enabled user whose live session the token names; moves the idle expiry on."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    found = (
        await session.execute(
            select(OperatorSession, User)
            .join(User, User.id == OperatorSession.user_id)
            .where(
                OperatorSession.token_hash == digest(token),
                OperatorSession.expires_at > now,
                User.disabled.is_(False),
            )
        )
    ).first()
    if found is None:
        return None
    login, user = found
    if now - login.last_seen_at >= TOUCH_EVERY:
        login.last_seen_at = now
        login.expires_at = policy.expiry(created=login.created_at, seen=now)
    return user


async def end(session: AsyncSession, *, token: str) -> None:
    statement = delete(OperatorSession).where(OperatorSession.token_hash == digest(token))
    await session.execute(statement)


async def end_all(session: AsyncSession, *, user_id: int, keep: str | None = None) -> None:
    """End every session of the user, but the one whose token is ``keep`` (if given)."""
    statement = delete(OperatorSession).where(OperatorSession.user_id == user_id)
    if keep is not None:
        statement = statement.where(OperatorSession.token_hash != digest(keep))
    await session.execute(statement)


async def purge_expired(session: AsyncSession, *, now: datetime, batch: int = PURGE_BATCH) -> int:
    """Delete up to ``batch`` expired sessions; returns how many (below ``batch``: all gone)."""
    expired = (
        select(OperatorSession.id).where(OperatorSession.expires_at <= now).limit(batch)
    ).scalar_subquery()
    result = await session.execute(delete(OperatorSession).where(OperatorSession.id.in_(expired)))
    return cast(CursorResult[Any], result).rowcount
