"""Operators of the management app: accounts, roles, access and password checks.

Hashing is slow on purpose (scrypt), so it runs on a small thread pool of its
own: a burst of logins must neither stall the event loop nor take 32 MiB per
request without bound; extra requests wait their turn.

Every change to who someone is or what they may do (password, role, access,
deletion) ends their sessions. There is always an enabled administrator left:
the CLI and the pages go through the same functions here, and the check holds
against concurrent changes on any number of nodes (see :func:`_lock_admins`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import ParamSpec, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.dialect import insert_ignoring_conflicts
from ocpp_core.db.models import User
from ocpp_core.domain import operator_sessions
from ocpp_core.domain.roles import Role as Role  # re-exported: where callers met it first
from ocpp_core.security import (
    ScryptCost,
    burn_password_check,
    hash_password,
    operator_password_problem,
    password_needs_rehash,
    verify_password,
)

MAX_NAME_LENGTH = 100  # the column's size
_HASHING = ThreadPoolExecutor(max_workers=4, thread_name_prefix="password-hash")
P = ParamSpec("P")
R = TypeVar("R")


class UserError(ValueError):
    """An account that can't be stored or changed; the message says why."""


class NoSuchUser(UserError):
    pass


class WeakPassword(UserError):
    """A new password outside the length rules (see ``operator_password_problem``)."""


class LastAdmin(UserError):
    """The change would leave no enabled administrator."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is the last enabled administrator: make another one first")
        self.name = name


@dataclass(frozen=True, slots=True)
class Operator:
    """Who is logged in, as the pages see it (no hash)."""

    id: int
    name: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def name_problem(name: str) -> str | None:
    if not 0 < len(name) <= MAX_NAME_LENGTH:
        return f"name must be 1-{MAX_NAME_LENGTH} characters"
    if name != name.strip() or not name.isprintable():
        return "name must be printable, without leading or trailing spaces"
    return None


async def add(
    session: AsyncSession, *, name: str, password: str, role: Role, now: datetime, cost: ScryptCost
) -> Operator:
    """Create an operator; raises :class:`UserError` for a bad or taken name or a weak password.

    ``cost`` here and below is the setting ``management.password_cost``'s.
    """
    if problem := name_problem(name):
        raise UserError(problem)
    _check_password(password)
    values = {
        "name": name,
        "password_hash": await _hash(password, cost),
        "role": role.value,
        "created_at": now,
    }
    # The insert itself detects a taken name: a look-up first would race a concurrent add.
    if await insert_ignoring_conflicts(session, User, [values]) == 0:
        raise UserError(f"user {name!r} already exists")
    row = await session.scalar(select(User).where(User.name == name))
    assert row is not None
    return operator_of(row)


async def authenticate(
    session: AsyncSession, *, name: str, password: str, now: datetime, cost: ScryptCost
) -> Operator | None:
    """The operator if the password is right (and they are enabled); records the login."""
    row = await _checked(session, name=name, password=password, cost=cost)
    if row is None:
        return None
    row.last_login_at = now
    return operator_of(row)


async def check_password(
    session: AsyncSession, *, name: str, password: str, cost: ScryptCost
) -> Operator | None:
    """The operator if the password is right (and they are enabled), without logging in."""
    row = await _checked(session, name=name, password=password, cost=cost)
    return operator_of(row) if row is not None else None


async def _checked(
    session: AsyncSession, *, name: str, password: str, cost: ScryptCost
) -> User | None:
    """The user if the password is right and they are enabled; rehashes at a changed cost."""
    row = await session.scalar(select(User).where(User.name == name[:MAX_NAME_LENGTH]))
    if row is None:
        await _off_loop(burn_password_check, password, cost)
        return None
    # Checked even for a disabled user, so their answer takes as long as anyone's.
    if not await _off_loop(verify_password, password, row.password_hash) or row.disabled:
        return None
    if password_needs_rehash(row.password_hash, cost):
        row.password_hash = await _hash(password, cost)
    return row


async def find(session: AsyncSession, name: str) -> Operator:
    row = await session.scalar(select(User).where(User.name == name[:MAX_NAME_LENGTH]))
    if row is None:
        raise NoSuchUser(f"there is no user {name!r}")
    return operator_of(row)


async def list_all(session: AsyncSession) -> Sequence[User]:
    return (await session.scalars(select(User).order_by(User.name))).all()


async def set_password(
    session: AsyncSession,
    *,
    user_id: int,
    password: str,
    cost: ScryptCost,
    keep_session: str | None = None,
) -> Operator:
    """A new password; ends the user's sessions but ``keep_session`` (the one changing it)."""
    _check_password(password)
    hashed = await _hash(password, cost)
    row = await _row(session, user_id)
    row.password_hash = hashed
    await operator_sessions.end_all(session, user_id=user_id, keep=keep_session)
    return operator_of(row)


async def set_role(session: AsyncSession, *, user_id: int, role: Role) -> Operator:
    """Make the user an admin or a viewer (not the last admin); a change ends their sessions."""
    if role is Role.ADMIN:
        row = await _row(session, user_id)
    else:
        row = await _row_keeping_an_admin(session, user_id)
    if row.role != role.value:
        row.role = role.value
        await operator_sessions.end_all(session, user_id=user_id)
    return operator_of(row)


async def disable(session: AsyncSession, *, user_id: int) -> Operator:
    """The user can no longer log in, and their sessions end (never the last admin)."""
    row = await _row_keeping_an_admin(session, user_id)
    row.disabled = True
    await operator_sessions.end_all(session, user_id=user_id)
    return operator_of(row)


async def enable(session: AsyncSession, *, user_id: int) -> Operator:
    row = await _row(session, user_id)
    row.disabled = False
    return operator_of(row)


async def delete(session: AsyncSession, *, user_id: int) -> Operator:
    """Remove the user and their sessions (never the last admin)."""
    row = await _row_keeping_an_admin(session, user_id)
    await operator_sessions.end_all(session, user_id=user_id)
    await session.delete(row)
    return operator_of(row)


async def _row_keeping_an_admin(session: AsyncSession, user_id: int) -> User:
    """The user's row, if another enabled admin remains should this one stop being one."""
    admins = await _lock_admins(session)
    row = await _row(session, user_id)
    if admins == [row.id]:
        raise LastAdmin(row.name)
    return row


async def _lock_admins(session: AsyncSession) -> list[int]:
    """The enabled admins, locked until the transaction ends.

    A count read by a plain SELECT could be stale by the time it is acted on: two
    admins removing each other at once would both see the other one left. This
    UPDATE changes nothing but locks the rows: on PostgreSQL a concurrent change
    to any of them waits for this transaction and then sees its outcome; on
    SQLite it takes the database's write lock. Either way the list is current
    until the commit.
    """
    statement = (
        update(User)
        .where(User.role == Role.ADMIN.value, User.disabled.is_(False))
        .values(role=User.role)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    return sorted((await session.scalars(statement)).all())


async def _row(session: AsyncSession, user_id: int) -> User:
    # Read afresh: an earlier look-up in this session may predate the lock.
    row = await session.get(User, user_id, populate_existing=True)
    if row is None:
        raise NoSuchUser("there is no such user")
    return row


def _check_password(password: str) -> None:
    if problem := operator_password_problem(password):
        raise WeakPassword(problem)


def operator_of(row: User) -> Operator:
    return Operator(row.id, row.name, Role(row.role))


async def _hash(password: str, cost: ScryptCost) -> str:
    return await _off_loop(hash_password, password, cost)


async def _off_loop(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_HASHING, partial(function, *args, **kwargs))
