"""Bulk loading into a migrated database: PostgreSQL ``COPY``, SQLite one big transaction.

Values go through the columns' own SQLAlchemy types on the way in (the UTC
times, SQLite's booleans), so the rows read back exactly as the server's own
writes do. Ids are given, not drawn from the sequences, so on PostgreSQL the
sequences are moved past them afterwards: the server's next insert must not
collide with a loaded row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncpg
from sqlalchemy import Dialect, Table
from sqlalchemy.dialects.postgresql.asyncpg import dialect as postgresql_dialect
from sqlalchemy.dialects.sqlite.pysqlite import dialect as sqlite_dialect
from sqlalchemy.engine import make_url

from ocpp_core.db.models import Base

Row = tuple[Any, ...]
Convert = Callable[[Any], Any] | None
_SQLITE_BATCH = 50_000
_SERIAL_TABLES = ("transactions", "message_log")


def _converters(table: Table, columns: Sequence[str], dialect: Dialect) -> list[Convert]:
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]


def _converted(rows: Iterable[Row], converters: list[Convert]) -> Iterator[Row]:
    at = [(n, c) for n, c in enumerate(converters) if c is not None]
    for row in rows:
        values = list(row)
        for n, convert in at:
            values[n] = convert(values[n])
        yield tuple(values)


class Loader(AbstractAsyncContextManager["Loader"]):
    """Rows into tables, as fast as the database takes them."""

    dialect: Dialect

    async def load(self, table_name: str, columns: Sequence[str], rows: Iterable[Row]) -> int:
        table = Base.metadata.tables[table_name]
        converted = _converted(rows, _converters(table, columns, self.dialect))
        return await self._write(table_name, columns, converted)

    async def _write(self, table: str, columns: Sequence[str], rows: Iterable[Row]) -> int:
        raise NotImplementedError

    async def count(self, table: str) -> int:
        raise NotImplementedError

    async def begin(self) -> None:
        """Before the first table: settings for loading fast."""

    async def finish(self) -> None:
        """After the last table: what the database needs before the server runs on it."""


def loader_for(url: str) -> Loader:
    if make_url(url).get_backend_name() == "sqlite":
        return SqliteLoader(url)
    return PostgresLoader(url)


class SqliteLoader(Loader):
    dialect = sqlite_dialect()

    def __init__(self, url: str) -> None:
        path = make_url(url).database
        if not path:
            raise ValueError(f"{url}: a SQLite URL names a file (sqlite:///path/to/file)")
        self._path = Path(path)
        self._db: sqlite3.Connection | None = None

    async def __aenter__(self) -> SqliteLoader:
        self._db = sqlite3.connect(self._path, isolation_level=None)
        return self

    async def begin(self) -> None:
        assert self._db is not None
        # Loading only: a crash halfway leaves a data set to build again, not data to keep.
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-262144"):
            self._db.execute(f"PRAGMA {pragma}")

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._db is not None
        self._db.close()

    async def _write(self, table: str, columns: Sequence[str], rows: Iterable[Row]) -> int:
        assert self._db is not None
        marks = ", ".join("?" for _ in columns)
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        written = 0
        batch: list[Row] = []
        self._db.execute("BEGIN")
        for row in rows:
            batch.append(row)
            if len(batch) == _SQLITE_BATCH:
                self._db.executemany(statement, batch)
                written, batch = written + len(batch), []
        self._db.executemany(statement, batch)
        self._db.execute("COMMIT")
        return written + len(batch)

    async def count(self, table: str) -> int:
        assert self._db is not None
        found: int = self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
        return found

    async def finish(self) -> None:
        assert self._db is not None
        self._db.execute("PRAGMA journal_mode=WAL")  # what the server opens it in


class PostgresLoader(Loader):
    dialect = postgresql_dialect()  # type: ignore[no-untyped-call]

    def __init__(self, url: str) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._db: asyncpg.Connection | None = None

    async def __aenter__(self) -> PostgresLoader:
        self._db = await asyncpg.connect(self._dsn)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._db is not None
        await self._db.close()

    async def _write(self, table: str, columns: Sequence[str], rows: Iterable[Row]) -> int:
        assert self._db is not None
        status: str = await self._db.copy_records_to_table(
            table, records=rows, columns=list(columns)
        )
        return int(status.split()[-1])  # "COPY 12345"

    async def count(self, table: str) -> int:
        assert self._db is not None
        found: int = await self._db.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608
        return found

    async def finish(self) -> None:
        assert self._db is not None
        for table in _SERIAL_TABLES:
            await self._db.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        # The planner sees the fleet, not empty tables; and, as autovacuum leaves a live
        # database's tables, the pages are marked all-visible, so an index-only scan
        # need not visit the heap (freshly copied rows are not, until a vacuum).
        await self._db.execute("VACUUM (ANALYZE)")
