"""WebSocket plumbing for a virtual charger: dialling, auth and retry pacing."""

from __future__ import annotations

import logging
import random

from websockets.asyncio.client import connect
from websockets.headers import build_authorization_basic
from websockets.typing import Subprotocol

from .settings import ChargerSettings

WS_LOGGER = logging.getLogger("ocpp_core.simulator.websockets")
MAX_DOUBLINGS = 30


class _RedactAuthorization(logging.Filter):
    """websockets logs request headers at DEBUG; the Basic auth password must not leak."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and str(args[0]).lower() == "authorization":
            record.args = (args[0], "<redacted>")
        return True


WS_LOGGER.addFilter(_RedactAuthorization())


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Exponential and capped, with jitter so a fleet that lost its server
    does not hammer it in lockstep when it comes back."""
    ceiling = min(maximum, initial * 2.0 ** min(attempt, MAX_DOUBLINGS))
    return random.uniform(ceiling / 2, ceiling)


def open_connection(settings: ChargerSettings) -> connect:
    """Dial ``{url}/{charger_id}``, offering only the configured OCPP version.

    Proxies from the environment are ignored: a charger talks to its central
    system directly, and a stray HTTP_PROXY must not break local load runs.
    """
    headers = {}
    if settings.password is not None:
        headers["Authorization"] = build_authorization_basic(settings.charger_id, settings.password)
    return connect(
        settings.endpoint,
        subprotocols=[Subprotocol(settings.protocol)],
        additional_headers=headers,
        proxy=None,
        close_timeout=2,
        logger=WS_LOGGER,
    )
