"""One row read, changed by the domain's rules and written back, without the ORM's unit of work.

A payment's step reads its reservation under a lock, changes a few fields
(:func:`payments.states.move` checks the transition) and commits. Through the
ORM that paid twice for machinery a single row does not need: loading it into
the session's identity map, and the flush at commit that finds what changed
(about 0.5 ms for one changed row, more than the UPDATE it sends). Here the
statement is run by the driver (:class:`Prepared`), its row becomes an
instance of the model that no session tracks, the same code changes it as
before, and its changed columns go back in one UPDATE by its primary key, in
the caller's transaction, before the commit. The statement and its locks are
the caller's, unchanged: only who runs them and who finds the changes differ.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from ocpp_core.db.prepared import Prepared

M = TypeVar("M", bound=DeclarativeBase)
_KEY = "key_"  # the primary key's parameter: a column's own name is reserved in an UPDATE


@dataclass(frozen=True, slots=True)
class Found(Generic[M]):
    """The row read, the query's other columns after the model's, and the row as read."""

    row: M
    extra: tuple[Any, ...]
    read: Mapping[str, Any]

    def changes(self) -> dict[str, Any]:
        """The columns changed since the row was read, with their new values."""
        now = vars(self.row)
        return {name: now[name] for name, value in self.read.items() if now[name] != value}


class Rows(Generic[M]):
    """A model's rows as read by its own queries, and their changes written back."""

    def __init__(self, model: type[M]) -> None:
        mapper = model.__mapper__
        (key,) = mapper.primary_key
        self._key = mapper.get_property_by_column(key).key
        self._columns = tuple(column.key for column in mapper.column_attrs)
        self._new = mapper.class_manager.new_instance
        self._update = update(model).where(key == bindparam(_KEY))
        self._writes: dict[frozenset[str], Prepared] = {}
        self._insert = insert(model)
        self._inserts: dict[frozenset[str], Prepared] = {}

    def query(self, statement: Select[*tuple[Any, ...]]) -> Prepared:
        """``statement``, whose first columns are the model's (``select(Model, ...)``)."""
        names = tuple(column.key for column in statement.selected_columns)
        if names[: len(self._columns)] != self._columns:
            raise ValueError("the query must select the model's columns first")
        return Prepared(lambda _: statement)

    async def read(
        self, session: AsyncSession, query: Prepared, parameters: Mapping[str, Any]
    ) -> Found[M] | None:
        """The first row ``query`` finds, tracked by no session; changes to it are not saved."""
        values = await query.fetch(session, parameters)
        return None if not values else self.found(values[0])

    @asynccontextmanager
    async def editing(
        self, session: AsyncSession, query: Prepared, parameters: Mapping[str, Any]
    ) -> AsyncIterator[Found[M] | None]:
        """The first row ``query`` finds; what the block changed in it is written when it ends.

        Only a block that ends cleanly writes: an exception leaves the
        transaction to be rolled back with nothing sent.
        """
        found = await self.read(session, query, parameters)
        yield found
        if found is not None:
            await self._write(session, found)

    async def insert(self, session: AsyncSession, row: M) -> None:
        """Insert the new row (made by the model's constructor) in the session's transaction.

        A constraint it breaks raises IntegrityError at once, not at the commit.
        """
        values = {name: value for name, value in vars(row).items() if name in self._columns}
        names = frozenset(values)
        write = self._inserts.get(names)
        if write is None:
            write = self._inserts[names] = Prepared(lambda _: self._insert, sorted(names))
        await write.execute_many(session, [values])

    def found(self, values: Sequence[Any]) -> Found[M]:
        """The row of the model's columns first in ``values``, the rest as its ``extra``."""
        count = len(self._columns)
        read = dict(zip(self._columns, values[:count], strict=True))
        row = self._new()
        vars(row).update(read)  # as the ORM's loading does: the values, with no history
        return Found(row, tuple(values[count:]), read)

    async def _write(self, session: AsyncSession, found: Found[M]) -> None:
        changed = found.changes()
        if not changed:
            return
        names = frozenset(changed)
        write = self._writes.get(names)
        if write is None:
            write = self._writes[names] = Prepared(lambda _: self._update, sorted(names))
        await write.execute_many(session, [{**changed, _KEY: found.read[self._key]}])
