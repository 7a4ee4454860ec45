"""Running the management app under uvicorn with the settings' network options."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI

from ocpp_core import http_protocol, proxies
from ocpp_core.config import Settings

PORT_SETTING = "OCPP_CORE_MANAGEMENT__PORT"  # named with each command's flag when busy


def uvicorn_config(app: FastAPI, settings: Settings, **overrides: Any) -> uvicorn.Config:
    management = settings.management
    options: dict[str, Any] = {
        "host": management.host,
        "port": management.port,
        "log_level": settings.log_level,
        "lifespan": "on",
        "server_header": False,
        "ws": "none",  # pages and htmx only; no websockets here
        **proxies.uvicorn_options(settings),
        **http_protocol.uvicorn_options(settings.http),
        **overrides,
    }
    return uvicorn.Config(app, **options)
