"""The OCPP side of the message log: a row per exchange, whichever side called.

A charger's call is logged with our answer before the answer goes out (the
dispatcher waits for the row, see :class:`MessageLog`); a command of ours is
logged once the charger answered it, refused it or let it time out, so its row
holds the answer without a second write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ocpp_core.domain.command_errors import ChargerOffline, ChargerRejectedCall
from ocpp_core.domain.messagelog import LogEntry, MessageLog
from ocpp_core.metrics import Metrics
from ocpp_core.ocpp.router import Exchange

_INT32 = range(-(2**31), 2**31)


def connector_of(payload: dict[str, Any] | None) -> int | None:
    """The charging position a message is about: a 2.x EVSE (whose connectorId is a plug)
    or a 1.6 connector; None where it names none, or one the log's column can't hold."""
    connector = payload.get("evseId", payload.get("connectorId")) if payload else None
    return connector if type(connector) is int and connector in _INT32 else None


def incoming(
    charge_point_id: str,
    action: str,
    payload: dict[str, Any] | None,
    answer: dict[str, Any],
    *,
    at: datetime,
    error_code: str | None = None,
) -> LogEntry:
    """The log entry of a charger's call and our answer."""
    return LogEntry(
        logged_at=at,
        charge_point_id=charge_point_id,
        direction="in",
        action=action,
        payload=payload,
        error_code=error_code,
        connector_id=connector_of(payload),
        answer=answer,
    )


def error_answer(description: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A CALLERROR as the log keeps it in the answer's place."""
    return {"errorDescription": description, "errorDetails": details or {}}


class CommandJournal:
    """The command router's observer: counts what goes out and logs how it ended."""

    def __init__(self, log: MessageLog, metrics: Metrics) -> None:
        self._log = log
        self._metrics = metrics

    def sent(self, charge_point_id: str, action: str) -> None:
        self._metrics.messages.labels(action, "out").inc()

    def ended(self, exchange: Exchange) -> None:
        code, answer = _outcome(exchange)
        entry = LogEntry(
            logged_at=exchange.sent_at,
            charge_point_id=exchange.charge_point_id,
            direction="out",
            action=exchange.action,
            payload=exchange.payload,
            error_code=code,
            connector_id=connector_of(exchange.payload),
            answer=answer,
        )
        self._log.record(entry, always=code is not None)


def _outcome(exchange: Exchange) -> tuple[str | None, dict[str, Any] | None]:
    """The error code (None: answered) and what to keep as the answer."""
    error = exchange.error
    if error is None:
        return None, exchange.answer
    if isinstance(error, ChargerRejectedCall):
        if error.answer is not None:  # an answer that broke the schema: what it said
            return error.code, error.answer
        return error.code, error_answer(error.description, error.details)
    # Words of the API's answers: the charger never answered.
    return ("ChargerOffline" if isinstance(error, ChargerOffline) else "Timeout"), None
