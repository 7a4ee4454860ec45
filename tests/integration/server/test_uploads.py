"""The upload endpoint chargers send their diagnostics and logs to, fed bad input over real HTTP.

Whatever is refused leaves no file behind and, unless the upload was whole, leaves
the token usable for the charger's retry.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from builders import add_charge_point
from ocpp_core.config import Settings
from ocpp_core.db.models import LogUpload
from servers import ConnectCharger, RunningServer, with_uploads

MAX_UPLOAD = 4096


@pytest.fixture
def settings(
    settings: Settings, server_socket: tuple[socket.socket, str], tmp_path: Path
) -> Settings:
    return with_uploads(settings, server_socket, tmp_path, max_upload_bytes=MAX_UPLOAD)


@pytest.fixture
async def location(server: RunningServer, charger: ConnectCharger) -> str:
    """The upload URL a connected 1.6 charger was given."""
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await server.api.post("/API/GetDiagnostics/CP1", json={})
    _, request = cp.requests[-1]
    url: str = request["location"]
    return url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def kept(settings: Settings) -> list[str]:
    directory = settings.diagnostics.directory
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


async def uploads(server: RunningServer) -> list[dict[str, object]]:
    listed: list[dict[str, object]] = (await server.api.get("/API/Diagnostics/CP1")).json()
    return listed


async def test_unknown_and_malformed_tokens_are_404(
    server: RunningServer, location: str, http: httpx.AsyncClient, settings: Settings
) -> None:
    base = f"{server.http_url}/diagnostics/upload"
    for url in (f"{base}/{'A' * 43}", f"{base}/short", f"{base}/", f"{base}/%2e%2e"):
        response = await http.put(url, content=b"x")
        assert response.status_code == 404, url
    assert kept(settings) == []


async def test_only_put_and_post_upload(location: str, http: httpx.AsyncClient) -> None:
    response = await http.get(location)
    assert (response.status_code, response.json()["status"]) == (405, "MethodNotAllowed")


async def test_an_expired_token_is_403(
    server: RunningServer, location: str, http: httpx.AsyncClient, settings: Settings
) -> None:
    past = server.runtime.clock() - timedelta(seconds=1)
    async with server.runtime.db.session() as session:
        await session.execute(update(LogUpload).values(token_expires_at=past))
    response = await http.put(location, content=b"x")
    assert (response.status_code, response.json()["status"]) == (403, "Spent")
    assert kept(settings) == []


async def test_an_upload_over_the_limit_is_413_and_nothing_is_kept(
    server: RunningServer, location: str, http: httpx.AsyncClient, settings: Settings
) -> None:
    declared = await http.put(location, content=b"x" * (MAX_UPLOAD + 1))
    assert (declared.status_code, declared.json()["status"]) == (413, "PayloadTooLarge")

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(MAX_UPLOAD // 512 + 2):
            yield b"y" * 512

    streamed = await http.put(location, content=endless())
    assert streamed.status_code == 413
    assert kept(settings) == []
    # The token was not spent: the charger's retry, within the limit, lands.
    retry = await http.put(location, content=b"z" * MAX_UPLOAD)
    assert retry.status_code == 200
    [listed] = await uploads(server)
    assert listed["sizeBytes"] == MAX_UPLOAD


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--b--\r\n', "file"),
        (b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nhalf a fi', "boundary"),
        (b"no boundary anywhere", "boundary"),
    ],
)
async def test_a_form_without_a_whole_file_is_400_and_nothing_is_kept(
    server: RunningServer,
    location: str,
    http: httpx.AsyncClient,
    settings: Settings,
    body: bytes,
    error: str,
) -> None:
    headers = {"content-type": "multipart/form-data; boundary=b"}
    response = await http.post(location, content=body, headers=headers)
    assert (response.status_code, response.json()["status"]) == (400, "BadUpload")
    assert error in response.json()["error"]
    assert kept(settings) == []
    [listed] = await uploads(server)
    assert listed["uploadedAt"] is None


async def test_a_name_in_the_path_cannot_leave_the_directory(
    server: RunningServer, location: str, http: httpx.AsyncClient, settings: Settings
) -> None:
    response = await http.put(f"{location}/..%2F..%2Fpasswd", content=b"data")
    assert response.status_code == 200
    [listed] = await uploads(server)
    assert listed["fileName"] == "passwd"
    assert len(kept(settings)) == 1
    assert not (settings.diagnostics.directory.parent / "passwd").exists()


async def test_a_raw_post_is_the_file_itself(
    server: RunningServer, location: str, http: httpx.AsyncClient
) -> None:
    response = await http.post(location, content=b"raw log", headers={"content-type": "text/plain"})
    assert response.status_code == 200
    [listed] = await uploads(server)
    assert (listed["fileName"], listed["sizeBytes"]) == ("upload", 7)
