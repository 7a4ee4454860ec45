"""Who a request comes from: the client address, believed from a proxy only if it is trusted.

uvicorn rewrites a request's client address (and scheme) from ``X-Forwarded-For``
and ``X-Forwarded-Proto`` when the connection comes from an address it trusts;
its default trusts loopback, so anyone able to reach the port through a proxy
on the same host could name any address, and so dodge every per-address limit.
Here only the ``trusted_proxies`` setting is trusted, empty by default: then the
headers are ignored, whoever sends them. Every per-address throttle keys on
:func:`client_address`, the one address this leaves.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

from ocpp_core.config import Settings

UNKNOWN = "unknown"


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn settings that decide which forwarded headers are believed."""
    trusted = list(settings.trusted_proxies)
    # Given explicitly, so uvicorn's FORWARDED_ALLOW_IPS variable can't widen it either.
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted}


def client_address(connection: HTTPConnection) -> str:
    """The address throttles count: the peer, or what a trusted proxy said the peer was."""
    return connection.client.host if connection.client else UNKNOWN
