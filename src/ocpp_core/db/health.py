"""Whether the database answers, and how the server behaves while it does not.

A database that is down or cut off shows itself as many exceptions (a refused
or reset connection, a timeout, a connection the driver knows is dead); to the
rest of the server they all mean one thing, :class:`DatabaseUnavailable`: what
was asked may not be stored, and asking again later will work. The OCPP side
answers it with a CALLERROR, so the charger sends the message again; the web
apps answer it with a 503.

While the database does not answer at all (a network partition: each attempt
waits out its timeout), one attempt at a time probes it and the others fail at
once, so answers to chargers don't queue up behind timeouts. A refused
connection fails fast by itself, so there every attempt still tries.

The log says so once per kind of failure a minute, and once when the database
answers again, however many attempts fail meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

logger = logging.getLogger(__name__)

# SQLSTATEs of a server that can't serve: connection exceptions (class 08), shut
# down by an administrator or a crash, still starting up, out of connections.
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")
_REPORT_EVERY = 60.0  # seconds between two log lines about the same kind of failure


class DatabaseUnavailable(Exception):
    """The database could not be reached; whether the work was stored is unknown.

    Whoever asked must be able to ask again: OCPP chargers resend what got an
    error, and every handler treats a resent message as a replay.
    """


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database can't be reached (rather than refusing the work)."""
    if isinstance(error, OSError | PoolTimeout):  # refused, reset, timed out (an OSError too)
        return True
    if isinstance(error, DBAPIError):
        state = getattr(error.orig, "sqlstate", None) or ""
        return error.connection_invalidated or state.startswith(_UNAVAILABLE_STATES)
    return False


def describe(error: BaseException) -> str:
    """The failure in a few words, without the statement or its parameters."""
    detail = error.orig if isinstance(error, DBAPIError) else error
    return f"{type(error).__name__}: {detail}" if str(detail) else type(error).__name__


class Health:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._silent = False  # the last attempt timed out and none has succeeded since
        self._probing = False
        self._down_since: float | None = None
        self._failures = 0
        self._reported: dict[str, tuple[float, int]] = {}  # kind -> (last line, failures since)

    @property
    def silent(self) -> bool:
        """The last attempt timed out and none has succeeded since."""
        return self._silent

    def refuse_while_probing(self) -> None:
        """Fail at once while the database is silent and another attempt is finding out."""
        if self._silent and self._probing:
            self._failures += 1
            raise DatabaseUnavailable("the database did not answer; another attempt is waiting")

    @asynccontextmanager
    async def attempt(self) -> AsyncIterator[None]:
        """One unit of work: its outage errors become :class:`DatabaseUnavailable`."""
        self.refuse_while_probing()
        probe = self._silent
        if probe:
            self._probing = True
        try:
            yield
        except Exception as error:
            if not is_unavailable(error):
                raise
            self._failed(error)
            raise DatabaseUnavailable(describe(error)) from error
        else:
            self.answered()
        finally:
            if probe:
                self._probing = False

    def _failed(self, error: BaseException) -> None:
        now = self._clock()
        self._silent = isinstance(error, TimeoutError | PoolTimeout)
        self._failures += 1
        if self._down_since is None:
            self._down_since = now
        kind = type(error).__name__
        last, since = self._reported.get(kind, (None, 0))
        if last is not None and now - last < _REPORT_EVERY:
            self._reported[kind] = (last, since + 1)
            return
        self._reported[kind] = (now, 0)
        more = f" ({since} more failures like it since the last report)" if since else ""
        logger.error(
            "the database is unreachable (%s)%s; what needs it fails until it answers again",
            describe(error),
            more,
        )

    def answered(self) -> None:
        """The database answered (a connection was opened or passed its ping)."""
        self._silent = False
        if self._down_since is None:
            return
        logger.warning(
            "the database answers again after %.0f s; %d attempts failed meanwhile",
            self._clock() - self._down_since,
            self._failures,
        )
        self._down_since = None
        self._failures = 0
        self._reported.clear()
