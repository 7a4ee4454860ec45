"""Core statements run by the driver itself: compiled once per dialect, within the session.

Through a session, each execution of a statement pays for SQLAlchemy's
execution path (a cache key, an execution context, every row's parameters
worked through the compiled statement) and, on SQLite, three or four hand-offs
to aiosqlite's thread (cursor, execute, fetch, close), each tens of
microseconds of waking threads. The MeterValues of a group are written by the
same few statements every time: compiled here once per dialect, their
parameters processed by the column types' own bind processors, each runs as
one call of the driver on the session's own connection: aiosqlite's
executemany (one hand-off), asyncpg's executemany (one pipelined round trip).

The session's transaction holds them like any other statement. SQLite's driver
begins it before the first write whoever sends it; SQLAlchemy's asyncpg
adapter begins it with the session's first statement, so until one ran, the
statement goes through the session, which begins it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.dml import UpdateBase

Statements = Callable[[str], UpdateBase]  # the statement for a dialect's name


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # Each positional parameter's key in a row, and its type's bind processor if it has one.
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]

    def parameters(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(row[key] if bind is None else bind(row[key]) for key, bind in self.binds)


class Prepared:
    """One write statement, run with executemany on the driver's connection."""

    def __init__(self, statements: Statements, columns: Sequence[str] | None = None) -> None:
        """``columns``: the keys every row gives, for an INSERT of only those columns."""
        self._statements = statements
        self._columns = list(columns) if columns is not None else None
        self._compiled: dict[str, _Compiled] = {}

    async def execute_many(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once for each row, in the session's transaction."""
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None  # a connection of the session is never detached
        if not _in_transaction(connection, driver):
            await connection.execute(self._statements(connection.dialect.name), list(rows))
            return
        compiled = self._compiled_for(connection.dialect)
        await driver.executemany(compiled.sql, [compiled.parameters(row) for row in rows])

    def _compiled_for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _compile(
                self._statements(dialect.name), dialect, self._columns
            )
        return compiled


def _compile(statement: UpdateBase, dialect: Dialect, columns: list[str] | None) -> _Compiled:
    # for_executemany: no RETURNING of the new key, which a single-row INSERT would ask for.
    compiled = statement.compile(dialect=dialect, column_keys=columns, for_executemany=True)
    if not compiled.positional:
        raise TypeError(f"{dialect.name}: a driver with named parameters is not supported")
    binds = tuple(
        (
            compiled.binds[name].key,
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect),
        )
        for name in compiled.positiontup or ()
    )
    return _Compiled(compiled.string, binds)


def _in_transaction(connection: AsyncConnection, driver: Any) -> bool:
    if connection.dialect.name == "postgresql":
        return bool(driver.is_in_transaction())
    return True
