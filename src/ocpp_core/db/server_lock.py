"""One server process per SQLite file.

A SQLite file is a fleet of its own: a second server on it would hold other
chargers' sockets, and neither could send a command to the other's chargers
(a cluster needs PostgreSQL and Redis). So ``ocpp-core server`` and ``serve``
hold an exclusive lock on a file next to the database while they run, which
the kernel releases however the process ends; the file says whose it is. The
management app is not a server and takes no lock: ``serve`` runs it in a child
process on the same file.

The holder removes the file as it stops, while it still holds the lock. A
flock belongs to the file, not to its name: a process that opened the file
just before the removal may lock it just after, and then holds a lock on a
file nobody else will open again, while a third process creates a new file
under the name and locks that. So whoever gets the lock checks that the name
still leads to the file it locked, and starts over if not. (A server of the
release before this one does not check: two of them starting at the instant a
third stops could both run. Killed, a server leaves its file, which is
harmless: the next one locks and removes it.)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url


class ServerLockError(Exception):
    """Another server process serves this SQLite file, or its lock can't be made; says which."""


def sqlite_file(database_url: str) -> Path | None:
    """The SQLite database's file; None for PostgreSQL or a database in memory."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in {None, "", ":memory:"}:
        return None
    return Path(str(url.database)).resolve()


@contextlib.contextmanager
def only_server(database_url: str) -> Iterator[None]:
    """Hold the SQLite file's server lock meanwhile; ServerLockError if another process has it."""
    database = sqlite_file(database_url)
    if database is None:
        yield
        return
    lock = database.with_name(f"{database.name}.server-lock")
    fd = _lock(lock, database)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):  # a folder we may not write: the file stays
            os.unlink(lock)
        os.close(fd)


def _lock(lock: Path, database: Path) -> int:
    """The locked file's descriptor, once the name leads to the file locked (see above)."""
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise ServerLockError(f"can't create {lock}: {error.strerror or error}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ServerLockError(
                f"another ocpp-core server (pid {holder}) serves the SQLite database "
                f"{database} (it holds {lock}): stop it first; several server processes "
                "need PostgreSQL and cluster.redis_url"
            ) from None
        if _same_file(fd, lock):
            return fd
        os.close(fd)  # removed by the holder that just stopped: lock the name's new file


def _same_file(fd: int, path: Path) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)
