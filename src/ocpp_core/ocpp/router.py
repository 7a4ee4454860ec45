"""The only way anything sends a command to a charger.

Callers name a charger and a version-neutral command; the router finds where
its socket lives and lets that connection's protocol adapter spell the CALL.
This implementation knows the sockets of this process; the cluster's router
(``cluster.router``) implements the same :class:`CommandRouter` over Redis and
hands the calls for sockets of this process to this one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from ocpp_core.clock import Clock, utc_now
from ocpp_core.domain.command_errors import (
    ChargerOffline,
    ChargerRejectedCall,
    CommandError,
    CommandTimeout,
    RouteUnavailable,
)
from ocpp_core.domain.command_results import CommandResult, Outcome
from ocpp_core.domain.commands import Command
from ocpp_core.ocpp.connection import Connection
from ocpp_core.ocpp.registry import ConnectionRegistry

Encoder = Callable[[Command], tuple[str, dict[str, Any]]]
# The charger's status word in its answer to a command, as its version spells it.
StatusReader = Callable[[Command, dict[str, Any]], str | None]


@dataclass(frozen=True, slots=True)
class Exchange:
    """A CALL sent to a charger and how it ended: its answer, or the error instead."""

    charge_point_id: str
    action: str
    payload: dict[str, Any]
    sent_at: datetime
    answer: dict[str, Any] | None = None
    error: CommandError | None = None


class Observer(Protocol):
    def sent(self, charge_point_id: str, action: str) -> None:
        """The CALL passed its schema and goes out."""

    def ended(self, exchange: Exchange) -> None:
        """The charger answered or refused it, or never answered."""


class CommandRouter(Protocol):
    async def is_online(self, charge_point_id: str) -> bool: ...

    async def online(self) -> list[tuple[str, str]]:
        """(charger id, protocol) of every connected charger."""
        ...

    async def send(self, charge_point_id: str, command: Command) -> CommandResult:
        """The charger's answer; raises a :class:`CommandError` (see :func:`execute`)."""
        ...


async def execute(router: CommandRouter, charge_point_id: str, command: Command) -> CommandResult:
    """Send ``command``; how the charger answered, or why it couldn't.

    Raises only for a call that can't be made at all: our own CALL would break its
    schema (``FrameError``), or the charger's version has no such command.
    """
    try:
        return await router.send(charge_point_id, command)
    except RouteUnavailable as error:
        return CommandResult(Outcome.UNREACHABLE, error=error.reason)
    except ChargerOffline:
        return CommandResult(Outcome.OFFLINE)
    except CommandTimeout:
        return CommandResult(Outcome.TIMEOUT)
    except ChargerRejectedCall as error:
        return CommandResult(Outcome.REFUSED, error=error.code, description=error.description)


class LocalCommandRouter:
    def __init__(
        self,
        registry: ConnectionRegistry,
        encoders: Mapping[str, Encoder],
        readers: Mapping[str, StatusReader],
        timeout: float,
        observer: Observer | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._registry = registry
        self._encoders = encoders
        self._readers = readers
        self._timeout = timeout
        self._observer = observer
        self._clock = clock

    async def is_online(self, charge_point_id: str) -> bool:
        return charge_point_id in self._registry

    async def online(self) -> list[tuple[str, str]]:
        return [(c.charge_point_id, c.protocol) for c in self._registry]

    async def send(self, charge_point_id: str, command: Command) -> CommandResult:
        connection = self._registry.get(charge_point_id)
        if connection is None:
            raise ChargerOffline(charge_point_id)
        action, payload = self.encode(connection.protocol, command)
        answer = await self.call(connection, action, payload)
        return self.answered(connection.protocol, command, answer)

    def encode(self, protocol: str, command: Command) -> tuple[str, dict[str, Any]]:
        """The CALL (action, payload) that says ``command`` in ``protocol``."""
        return self._encoders[protocol](command)

    def answered(self, protocol: str, command: Command, answer: dict[str, Any]) -> CommandResult:
        """The result of the charger's answer in ``protocol`` to ``command``."""
        return CommandResult(Outcome.ANSWERED, self._readers[protocol](command, answer), answer)

    async def call(
        self,
        connection: Connection,
        action: str,
        payload: dict[str, Any],
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Send a CALL already spelled for the connection's protocol (a cluster relays them).

        ``timeout``: less than the command timeout when the caller has waited already.
        """
        wait = self._timeout if timeout is None else timeout
        if self._observer is None:
            return await connection.call(action, payload, wait)
        return await self._observed(connection, action, payload, wait, self._observer)

    async def _observed(
        self,
        connection: Connection,
        action: str,
        payload: dict[str, Any],
        timeout: float,
        observer: Observer,
    ) -> dict[str, Any]:
        """The call, told to the observer as it goes out and once it ended (however)."""
        charge_point_id = connection.charge_point_id
        went_out: Exchange | None = None

        def going_out() -> None:
            nonlocal went_out
            went_out = Exchange(charge_point_id, action, payload, self._clock())
            observer.sent(charge_point_id, action)

        try:
            answer = await connection.call(action, payload, timeout, going_out)
        except BaseException as error:
            if went_out is not None:  # else our own schema check refused it: nothing went out
                failure = error if isinstance(error, CommandError) else None
                observer.ended(replace(went_out, error=failure))
            raise
        if went_out is not None:
            observer.ended(replace(went_out, answer=answer))
        return answer
