"""Who may open a charger's socket: HTTP Basic auth and TLS client certificates.

Each credential configured on the charge point must be presented: a password
(OCPP security profiles 1 and 2), a certificate thumbprint (profile 3), or both.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
from collections.abc import Mapping
from typing import Any

from ocpp_core.db.models import ChargePoint
from ocpp_core.security import verify_secret


def authentication_problem(
    charge_point: ChargePoint, authorization: str | None, scope: Mapping[str, Any]
) -> str | None:
    """Why this handshake may not proceed, or None."""
    if charge_point.password_hash is not None:
        problem = _basic_auth_problem(charge_point, authorization)
        if problem:
            return problem
    if charge_point.client_cert_thumbprint:
        return _certificate_problem(charge_point.client_cert_thumbprint, scope)
    return None


def _basic_auth_problem(charge_point: ChargePoint, authorization: str | None) -> str | None:
    credentials = _basic_credentials(authorization)
    if isinstance(credentials, str):
        return credentials
    user, password = credentials
    assert charge_point.password_hash is not None
    expected_user = charge_point.auth_user or charge_point.id
    # Bytes, not str: compare_digest raises on a str with non-ASCII characters.
    user_ok = hmac.compare_digest(user.encode(), expected_user.encode())
    if not (verify_secret(password, charge_point.password_hash) and user_ok):
        return "wrong user or password"
    return None


def _basic_credentials(authorization: str | None) -> tuple[str, str] | str:
    """User and password of a Basic ``Authorization`` header, or why there are none.

    Header values arrive decoded as ISO-8859-1, so anything a client sends is a
    str here; base64 refuses non-ASCII input with a plain ValueError.
    """
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return "Basic authentication required"
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors too
        return "malformed Basic credentials"
    if not sep:
        return "malformed Basic credentials"
    return user, password


def _certificate_problem(pinned: str, scope: Mapping[str, Any]) -> str | None:
    chain = scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
    if not chain:
        return "client certificate required"
    # Tools print fingerprints as "AB:CD:..." or "ab cd ..."; only the hex digits count.
    expected = "".join(c for c in pinned.lower() if c in "0123456789abcdef")
    if not hmac.compare_digest(thumbprint(chain[0], len(expected)), expected):
        return "client certificate not registered for this charge point"
    return None


def thumbprint(pem: str, length: int = 64) -> str:
    """SHA-256 fingerprint of the certificate, or SHA-1 for 40-digit (Windows-style) entries."""
    der = ssl.PEM_cert_to_DER_cert(pem)
    digest = hashlib.sha1 if length == 40 else hashlib.sha256
    return digest(der).hexdigest()
