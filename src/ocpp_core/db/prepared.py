"""Core statements run by the driver itself: compiled once per dialect, within the session.

Through a session, each execution of a statement pays for SQLAlchemy's
execution path (a cache key, an execution context, every row's parameters
worked through the compiled statement) and, on SQLite, three or four hand-offs
to aiosqlite's thread (cursor, execute, fetch, close), each tens of
microseconds of waking threads. The MeterValues of a group are written by the
same few statements every time: compiled here once per dialect, their
parameters and results processed by the column types' own processors, each
runs as one call of the driver on the session's own connection: aiosqlite's
executemany or execute_fetchall (one hand-off), asyncpg's executemany (one
pipelined round trip) or fetch.

The session's transaction holds them like any other statement. SQLite's driver
begins it before the first write whoever sends it; SQLAlchemy's asyncpg
adapter begins it with the session's first statement, so a unit of work whose
first statement is one of these has the adapter begin it (its BEGIN, the
round trip the session's statement would have sent first), then runs the
statement on the driver. Sending that first statement through the session
instead cost each unit of work SQLAlchemy's whole execution path: a unit of
work reading one reservation took 0.61-0.84 ms of CPU that way, 0.45-0.57 ms
this way (three runs each, a machine under load).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Dialect, Select
from sqlalchemy.engine import Compiled
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase

Statement = UpdateBase | Select[*tuple[Any, ...]]
Statements = Callable[[str], Statement]  # the statement for a dialect's name
Processor = Callable[[Any], Any]
# How each driver runs a query with positional parameters and returns all its rows.
_FETCH: dict[str, Callable[[Any, str, list[Any]], Awaitable[Iterable[Sequence[Any]]]]] = {
    "sqlite": lambda driver, sql, parameters: driver.execute_fetchall(sql, parameters),
    "postgresql": lambda driver, sql, parameters: driver.fetch(sql, *parameters),
}
# A constraint each driver reports: raised as the IntegrityError a session would raise.
_VIOLATION: dict[str, type[Exception]] = {
    "sqlite": sqlite3.IntegrityError,
    "postgresql": asyncpg.IntegrityConstraintViolationError,
}


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # Each positional parameter's key in a row, and its type's bind processor if it has one.
    binds: tuple[tuple[str, Processor | None], ...]
    constants: dict[str, Any]  # the values the statement holds itself (literals, not keys)
    results: tuple[Processor | None, ...]  # each selected column's type's result processor

    # Lists from comprehensions, not tuples from generators: every row of a group goes
    # through these, and both drivers take any sequence.
    def parameters(self, row: Mapping[str, Any]) -> list[Any]:
        if self.constants:
            row = {**self.constants, **row}
        return [row[key] if bind is None else bind(row[key]) for key, bind in self.binds]

    def row(self, values: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            [
                value if result is None else result(value)
                for result, value in zip(self.results, values, strict=True)
            ]
        )


class Prepared:
    """One statement, run by the driver on the session's connection."""

    def __init__(self, statements: Statements, columns: Sequence[str] | None = None) -> None:
        """``columns``: the keys every row gives, for an INSERT of only those columns."""
        self._statements = statements
        self._columns = list(columns) if columns is not None else None
        self._compiled: dict[str, _Compiled] = {}

    async def execute_many(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once for each row, in the session's transaction."""
        connection, driver = await _connection(session)
        compiled = self._compiled_for(connection.dialect)
        with _violations(connection.dialect.name, compiled.sql):
            await driver.executemany(compiled.sql, [compiled.parameters(row) for row in rows])

    async def fetch(
        self, session: AsyncSession, parameters: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """The query's rows, their values as the session would give them."""
        connection, driver = await _connection(session)
        name = connection.dialect.name
        compiled = self._compiled_for(connection.dialect)
        with _violations(name, compiled.sql):
            rows = await _FETCH[name](driver, compiled.sql, compiled.parameters(parameters))
        return [compiled.row(row) for row in rows]

    def _compiled_for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _compile(
                self._statements(dialect.name), dialect, self._columns
            )
        return compiled


def _compile(statement: Statement, dialect: Dialect, columns: list[str] | None) -> _Compiled:
    # for_executemany: no RETURNING of the new key, which a single-row INSERT would ask for.
    compiled = statement.compile(dialect=dialect, column_keys=columns, for_executemany=True)
    if not compiled.positional:
        raise TypeError(f"{dialect.name}: a driver with named parameters is not supported")
    # In the order of the placeholders, a name once per place it is used; by the names the
    # compiled statement gives them: a literal's parameter has no key of its own.
    binds_of = [(name, compiled.binds[name]) for name in compiled.positiontup or ()]
    processors = {
        name: bind.type.dialect_impl(dialect).bind_processor(dialect)
        for name, bind in compiled.binds.items()
    }
    binds = tuple((name, processors[name]) for name, _ in binds_of)
    # What a query selects, or what an INSERT or UPDATE returns.
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in statement.exported_columns
    )
    constants = {name: bind.effective_value for name, bind in binds_of if not bind.required}
    if compiled.post_compile_params:
        return _expanded(compiled, processors, results)
    return _Compiled(compiled.string, binds, constants, results)


def _expanded(
    compiled: Compiled,
    processors: Mapping[str, Processor | None],
    results: tuple[Processor | None, ...],
) -> _Compiled:
    """A statement with an IN of the values it holds, rendered with a placeholder for each.

    SQLAlchemy renders those at each execution; their values are the statement's
    own, so here once. An IN of values given at execution is not supported.
    """
    assert isinstance(compiled, SQLCompiler)
    if any(bind.required for bind in compiled.post_compile_params):
        raise TypeError("an IN of values given at execution is not supported")
    given = {name: None for name, bind in compiled.binds.items() if bind.required}
    state = compiled.construct_expanded_state(given)
    names = state.positiontup or ()
    binds = tuple(
        (name, processors[name] if name in processors else state.processors.get(name))
        for name in names
    )
    constants = {name: state.parameters[name] for name in names if name not in given}
    return _Compiled(state.statement, binds, constants, results)


@contextmanager
def _violations(dialect: str, sql: str) -> Iterator[None]:
    try:
        yield
    except _VIOLATION[dialect] as error:
        raise IntegrityError(sql, None, error) from error


async def _connection(session: AsyncSession) -> tuple[AsyncConnection, Any]:
    """The session's connection and its driver's, in the session's transaction."""
    connection = await session.connection()
    pooled = await connection.get_raw_connection()
    driver = pooled.driver_connection
    assert driver is not None  # a connection of the session is never detached
    if connection.dialect.name == "postgresql" and not driver.is_in_transaction():
        await _begin(connection, pooled.dbapi_connection)
    return connection, driver


async def _begin(connection: AsyncConnection, adapter: Any) -> None:
    """Begin the transaction as SQLAlchemy's asyncpg adapter does before a first statement:
    the session's commit or rollback ends it.

    A BEGIN that fails (a connection that died in the pool) is left to SQLAlchemy:
    a statement through the connection begins again, and its failure is told
    apart and handled as any unit of work's (the pool renewed, the database
    reported unavailable).
    """
    try:
        await adapter._start_transaction()
    except Exception:
        await connection.exec_driver_sql("SELECT 1")
