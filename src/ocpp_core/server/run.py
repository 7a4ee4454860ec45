"""Running the server app under uvicorn with the settings' network options."""

from __future__ import annotations

import ssl
from typing import Any

import uvicorn
from fastapi import FastAPI

from ocpp_core import http_protocol, proxies
from ocpp_core.config import Settings
from ocpp_core.domain.log_uploads import UPLOAD_PATH
from ocpp_core.ocpp.tls import ClientCertWebSocketProtocol

PORT_OPTION = "--port or OCPP_CORE_PORT"  # how a user moves the server off a busy port


def uvicorn_config(app: FastAPI, settings: Settings, **overrides: Any) -> uvicorn.Config:
    ocpp = settings.ocpp
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "ws": ClientCertWebSocketProtocol,
        "ws_max_size": ocpp.max_message_size,
        "ws_ping_interval": ocpp.keepalive_interval,
        "ws_ping_timeout": ocpp.keepalive_timeout,
        # Compression costs 35 KiB a connection and CPU on every frame, for small JSON.
        "ws_per_message_deflate": False,
        "log_level": settings.log_level,
        "lifespan": "on",
        "server_header": False,
        **proxies.uvicorn_options(settings),
        # Until the upgrade, a charger is an HTTP client like any other.
        **http_protocol.uvicorn_options(
            settings.http, {UPLOAD_PATH: settings.diagnostics.upload_timeout}
        ),
        **_tls_options(settings),
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)


def _tls_options(settings: Settings) -> dict[str, Any]:
    tls = settings.tls
    if tls.certfile is None:
        return {}
    if tls.require_client_cert:
        requirement = ssl.CERT_REQUIRED
    else:
        requirement = ssl.CERT_OPTIONAL if tls.client_ca_file else ssl.CERT_NONE
    return {
        "ssl_certfile": str(tls.certfile),
        "ssl_keyfile": str(tls.keyfile) if tls.keyfile else None,
        "ssl_ca_certs": str(tls.client_ca_file) if tls.client_ca_file else None,
        "ssl_cert_reqs": requirement,
    }
