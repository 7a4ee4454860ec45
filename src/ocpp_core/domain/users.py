"""Operators of the management app: accounts, roles and password checks.

Hashing is slow on purpose (scrypt), so it runs on a small thread pool of its
own: a burst of logins must neither stall the event loop nor take 32 MiB per
request without bound; extra requests wait their turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.dialect import insert_ignoring_conflicts
from ocpp_core.db.models import User
from ocpp_core.security import (
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


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


class UserError(ValueError):
    """An account that can't be stored; the message says why."""


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
    session: AsyncSession, *, name: str, password: str, role: Role, now: datetime
) -> Operator:
    """Create an operator; raises :class:`UserError` for a bad or taken name or a weak password."""
    problem = name_problem(name) or operator_password_problem(password)
    if problem:
        raise UserError(problem)
    values = {
        "name": name,
        "password_hash": await _hash(password),
        "role": role.value,
        "created_at": now,
    }
    # The insert itself detects a taken name: a look-up first would race a concurrent add.
    if await insert_ignoring_conflicts(session, User, [values]) == 0:
        raise UserError(f"user {name!r} already exists")
    row = await session.scalar(select(User).where(User.name == name))
    assert row is not None
    return _operator(row)


async def authenticate(
    session: AsyncSession, *, name: str, password: str, now: datetime
) -> Operator | None:
    """The operator if the password is right; records the login and upgrades an old hash."""
    row = await session.scalar(select(User).where(User.name == name[:MAX_NAME_LENGTH]))
    if row is None:
        await _off_loop(burn_password_check, password)
        return None
    if not await _off_loop(verify_password, password, row.password_hash):
        return None
    if password_needs_rehash(row.password_hash):
        row.password_hash = await _hash(password)
    row.last_login_at = now
    return _operator(row)


async def get(session: AsyncSession, user_id: int) -> Operator | None:
    row = await session.get(User, user_id)
    return _operator(row) if row is not None else None


async def list_all(session: AsyncSession) -> Sequence[User]:
    return (await session.scalars(select(User).order_by(User.name))).all()


def _operator(row: User) -> Operator:
    return Operator(row.id, row.name, Role(row.role))


async def _hash(password: str) -> str:
    return await _off_loop(hash_password, password)


async def _off_loop(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_HASHING, partial(function, *args, **kwargs))
