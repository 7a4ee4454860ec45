"""Logging set-up shared by every command, and the secrets kept out of the log."""

from __future__ import annotations

import logging

from websockets.frames import Frame, Opcode

from ocpp_core.domain.redaction import redact_text, text_may_hold_secret

# Loggers of libraries that write what passes through them: request lines with the
# API's paths (a ChangeConfiguration value is in the path), and at debug level
# every websocket frame (which a redaction can't read: it is cut to 75 characters).
_PASS_THROUGH_LOGGERS = ("uvicorn.access", "uvicorn.error", "httpx")
_DATA_FRAMES = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.CONT})


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


def hide_secrets() -> None:
    """Keep secrets out of what the libraries under the apps log (once per process)."""
    for name in _PASS_THROUGH_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _HideSecrets) for f in logger.filters):
            logger.addFilter(_HideSecrets())


class _HideSecrets(logging.Filter):
    """Redacts a record's text and arguments; a frame is logged as its kind and size only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and text_may_hold_secret(record.msg):
            record.msg = redact_text(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_hidden(arg) for arg in record.args)
        return True


def _hidden(arg: object) -> object:
    if isinstance(arg, Frame):
        if arg.opcode in _DATA_FRAMES:
            return f"{arg.opcode.name} [{len(arg.data)} bytes]"
        return arg
    if isinstance(arg, int | float):
        return arg  # kept for %d and the like
    text = str(arg)
    return redact_text(text) if text_may_hold_secret(text) else arg
