"""The cookie that remembers a driver: an id of their own, and the sessions they started.

Signed, not encrypted, for a day. The sessions are what gives the browser
access to them (see :mod:`.public`); the id tells the server which unpaid
reservation is this driver's one, so a new start replaces it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

COOKIE = "ocpp_core_driver"
COOKIE_SECONDS = 24 * 3600
MAX_REMEMBERED = 5
_MAX_DRIVER_ID = 64

Entry = tuple[str, int, str]  # charge point, connector, reservation


@dataclass(frozen=True, slots=True)
class Jar:
    driver: str | None
    sessions: tuple[Entry, ...] = ()  # oldest first

    def remembering(self, entry: Entry, driver: str) -> Jar:
        """This jar with ``entry`` the newest one on its connector."""
        kept = [e for e in self.sessions if e[:2] != entry[:2]]
        return Jar(driver, (*kept, entry)[-MAX_REMEMBERED:])


def new_driver() -> str:
    return secrets.token_urlsafe(24)


def read(raw: str | None, signer: URLSafeTimedSerializer) -> Jar:
    """The jar in the cookie; an empty one if it is missing, tampered with or too old."""
    if not raw:
        return Jar(None)
    try:
        value = signer.loads(raw, max_age=COOKIE_SECONDS)
    except BadSignature:
        return Jar(None)
    if isinstance(value, list):  # written before drivers had an id
        value = {"sessions": value}
    if not isinstance(value, dict):
        return Jar(None)
    driver = value.get("driver")
    valid = isinstance(driver, str) and 0 < len(driver) <= _MAX_DRIVER_ID
    return Jar(driver if valid else None, _entries(value.get("sessions")))


def _entries(value: object) -> tuple[Entry, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        (entry[0], entry[1], entry[2])
        for entry in value
        if isinstance(entry, list)
        and len(entry) == 3
        and isinstance(entry[0], str)
        and isinstance(entry[1], int)
        and isinstance(entry[2], str)
    )


def write(response: Response, jar: Jar, signer: URLSafeTimedSerializer, *, secure: bool) -> None:
    value = signer.dumps({"driver": jar.driver, "sessions": [list(e) for e in jar.sessions]})
    response.set_cookie(
        COOKIE,
        value,
        max_age=COOKIE_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
