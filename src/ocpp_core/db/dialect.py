"""Statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


def dialect_insert(session: AsyncSession, target: type[DeclarativeBase] | Table) -> Any:
    """An INSERT of the session's dialect, which can say what to do on a conflict."""
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(target)


async def insert_ignoring_conflicts(
    session: AsyncSession, model: type[DeclarativeBase], rows: Sequence[Mapping[str, Any]]
) -> int:
    """Insert many rows in one statement, skipping those whose key exists; returns how many."""
    if not rows:
        return 0
    result = await session.execute(
        dialect_insert(session, model).values(list(rows)).on_conflict_do_nothing()
    )
    return cast(CursorResult[Any], result).rowcount


async def upsert(
    session: AsyncSession,
    model: type[DeclarativeBase],
    keys: Mapping[str, Any],
    values: Mapping[str, Any],
) -> None:
    """Insert the row or update the given columns of the existing one, in one round trip."""
    statement = dialect_insert(session, model).values({**keys, **values})
    await session.execute(
        statement.on_conflict_do_update(index_elements=list(keys), set_=dict(values))
    )
