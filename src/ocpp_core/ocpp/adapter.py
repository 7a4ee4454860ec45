"""The shape every protocol version's adapter has.

An adapter is data: a table of handlers built once at import, the version's
schemas, how it spells commands, and how it spells error codes. The endpoint
and dispatcher stay version-independent by going through this.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ocpp_core.config import OcppSettings
from ocpp_core.domain.charging import Charging
from ocpp_core.domain.commands import Command
from ocpp_core.ocpp.framing import ErrorCode
from ocpp_core.ocpp.schemas import SchemaSet
from ocpp_core.runtime import Runtime


@dataclass(frozen=True, slots=True)
class ChargerContext:
    """Who sent the message being handled, and the server it reached."""

    charge_point_id: str
    protocol: str
    runtime: Runtime
    # The domain's service for this charger's messages: one per connection, made with the
    # context, not one per message (a MeterValues is answered in a few hundred µs).
    charging: Charging = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "charging", Charging(self.runtime, self.charge_point_id))


Handler = Callable[[ChargerContext, dict[str, Any]], Awaitable[dict[str, Any]]]


def status(answer: dict[str, Any], key: str = "status") -> str | None:
    """The status word of an answer that has one (most do, in every version)."""
    word = answer.get(key)
    return word if isinstance(word, str) else None


@dataclass(frozen=True)
class ProtocolAdapter:
    subprotocol: str
    schemas: SchemaSet
    handlers: Mapping[str, Handler]
    # Settings, because some spellings are the operator's choice (e.g. the idToken type).
    encode: Callable[[Command, OcppSettings], tuple[str, dict[str, Any]]]
    # The charger's status word in its answer to a command (see CommandResult.status).
    status_of: Callable[[Command, dict[str, Any]], str | None] = field(
        default=lambda c, a: status(a)
    )
    error_spelling: Mapping[ErrorCode, str] = field(default_factory=dict)
    always_logged: frozenset[str] = frozenset()
    # Actions whose handler writes the message-log row itself, in the transaction that
    # stores what the call says (see common.store_readings), instead of in one of its own.
    logged_by_handler: frozenset[str] = frozenset()

    def wire_code(self, code: ErrorCode) -> str:
        return self.error_spelling.get(code, code.value)
