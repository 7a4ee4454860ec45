"""A charger's upload may take longer than other request bodies (``diagnostics.upload_timeout``
instead of ``http.body_timeout``): a log over a mobile link takes minutes. Still bounded."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from builders import add_charge_point
from ocpp_core.config import DiagnosticsSettings, HttpSettings, OcppSettings, Settings
from rawhttp import raw_connection, request_head
from servers import API_KEY, ConnectCharger, RunningServer

SHORT = 0.3


def diagnostics(
    server_socket: tuple[socket.socket, str], tmp_path: Path, upload_timeout: float
) -> DiagnosticsSettings:
    return DiagnosticsSettings(
        directory=tmp_path / "diagnostics",
        upload_base_url=server_socket[1],
        upload_timeout=upload_timeout,
    )


@pytest.fixture(params=[60.0, SHORT], ids=["long", "short"])
def settings(
    request: pytest.FixtureRequest,
    database_url: str,
    ocpp_settings: OcppSettings,
    server_socket: tuple[socket.socket, str],
    tmp_path: Path,
) -> Settings:
    return Settings(
        database_url=database_url,
        api_key=SecretStr(API_KEY),
        log_level="warning",
        ocpp=ocpp_settings,
        http=HttpSettings(body_timeout=SHORT),
        diagnostics=diagnostics(server_socket, tmp_path, request.param),
    )


async def test_an_upload_outlasts_the_body_timeout_but_not_its_own(
    server: RunningServer, charger: ConnectCharger, settings: Settings
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await server.api.post("/API/GetDiagnostics/CP1", json={})
    path = urlsplit(cp.requests[-1][1]["location"]).path
    head = request_head("PUT", path, Content_Length="10")
    api_head = request_head("POST", "/API/Payments/Create", Content_Length="10", X_API_Key=API_KEY)
    async with raw_connection(server.port) as upload, raw_connection(server.port) as api:
        await upload.send(head + b"12345")
        await api.send(api_head + b"12345")
        # An API body as slow as the upload is cut off at http.body_timeout...
        assert await api.closed_by_server()
        if settings.diagnostics.upload_timeout > SHORT:
            # ...while the upload may go on.
            await upload.send(b"67890")
            status, body = await upload.json_response()
            assert (status, body) == (200, {"status": "Uploaded"})
        else:
            assert await upload.closed_by_server()
