"""Statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from ocpp_core.db.prepared import Prepared


def _insert(session: AsyncSession, model: type[DeclarativeBase]) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(model)


async def lock_before_reading(
    session: AsyncSession, touch: Prepared, parameters: Mapping[str, Any]
) -> None:
    """Make the ``SELECT ... FOR UPDATE`` that follows lock on SQLite too.

    PostgreSQL locks the rows that statement reads. SQLite ignores FOR UPDATE
    and reads outside any transaction until the first write, which takes the
    database's write lock: ``touch``, an UPDATE that changes nothing, makes
    that first. Only another process on the same file needs it (within one,
    sessions take turns), as two server apps in one test do.
    """
    if session.get_bind().dialect.name == "sqlite":
        await touch.execute_many(session, [parameters])


async def insert_ignoring_conflicts(
    session: AsyncSession, model: type[DeclarativeBase], rows: Sequence[Mapping[str, Any]]
) -> int:
    """Insert many rows in one statement, skipping those whose key exists; returns how many."""
    if not rows:
        return 0
    result = await session.execute(
        _insert(session, model).values(list(rows)).on_conflict_do_nothing()
    )
    return cast(CursorResult[Any], result).rowcount


async def upsert(
    session: AsyncSession,
    model: type[DeclarativeBase],
    keys: Mapping[str, Any],
    values: Mapping[str, Any],
) -> None:
    """Insert the row or update the given columns of the existing one, in one round trip."""
    statement = _insert(session, model).values({**keys, **values})
    await session.execute(
        statement.on_conflict_do_update(index_elements=list(keys), set_=dict(values))
    )


async def increment(
    session: AsyncSession, model: type[DeclarativeBase], keys: Mapping[str, Any], column: str
) -> None:
    """Add one to ``column`` of the row, or insert it with 1, in one round trip."""
    statement = _insert(session, model).values({**keys, column: 1})
    counter = getattr(model, column)
    await session.execute(
        statement.on_conflict_do_update(index_elements=list(keys), set_={column: counter + 1})
    )


class MergingUpsert:
    """Insert a row, or set the given columns of the existing one where the new value isn't None.

    Built once for both dialects and run with executemany: every row gives every
    column, None for "keep what is stored", so one statement serves rows that set
    different columns. Rows of one execution must not share a key (PostgreSQL
    refuses to update a row twice in one statement).
    """

    def __init__(self, table: Table, keys: Sequence[str], columns: Sequence[str]) -> None:
        statements = {
            name: self._build(dialect.insert(table), table, keys, columns)
            for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
        }
        self._prepared = Prepared(statements.__getitem__, [*keys, *columns])

    @staticmethod
    def _build(statement: Any, table: Table, keys: Sequence[str], columns: Sequence[str]) -> Any:
        merged = {name: func.coalesce(statement.excluded[name], table.c[name]) for name in columns}
        return statement.on_conflict_do_update(index_elements=list(keys), set_=merged)

    async def execute(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
        await self._prepared.execute_many(session, rows)
