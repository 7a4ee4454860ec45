"""Firmware updates, diagnostics/log requests and TriggerMessage through the JSON API, on both
versions, with the ``ocpp`` library's charger answering (its frames checked against the
OCA schemas at teardown) and its uploads made over real HTTP.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.v16 import call
from ocpp.v201 import call as call201
from sqlalchemy import func, select

from builders import add_charge_point
from chargers import Late, TestCharger, TestCharger201
from ocpp_core.config import Settings
from ocpp_core.db.models import FirmwareUpdate, LogUpload
from ocpp_core.domain.progress import HISTORY_KEPT, REQUESTS_KEPT
from servers import ConnectCharger, ConnectCharger201, RunningServer, with_uploads

Request = dict[str, Any]
MAX_UPLOAD = 4096


@pytest.fixture
def settings(
    settings: Settings, server_socket: tuple[socket.socket, str], tmp_path: Path
) -> Settings:
    return with_uploads(settings, server_socket, tmp_path, max_upload_bytes=MAX_UPLOAD)


async def next_request(cp: TestCharger | TestCharger201) -> tuple[str, Request]:
    """The next CALL the charger handled; the API answers only after that, so no waiting."""
    async with asyncio.timeout(2):
        return await cp.received.get()


async def connected16(server: RunningServer, charger: ConnectCharger) -> TestCharger:
    await add_charge_point(server.runtime.db, "CP1")
    return await charger("CP1")


async def connected201(server: RunningServer, charger201: ConnectCharger201) -> TestCharger201:
    await add_charge_point(server.runtime.db, "CP2")
    return await charger201("CP2")


def statuses(progress: dict[str, Any]) -> list[str]:
    return [step["status"] for step in progress["history"]]


async def test_a_1_6_update_is_sent_and_its_progress_kept_on_the_request(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected16(server, charger)
    body = {
        "location": "https://firmware.example.com/cp-2.1.bin",
        "retrieveDate": "2026-12-06T02:00:00Z",
        "retries": 3,
        "retryInterval": 60,
    }
    response = await server.api.post("/API/UpdateFirmware/CP1", json=body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "Accepted"  # 1.6 answers with nothing: taken
    assert await next_request(cp) == (
        "UpdateFirmware",
        {
            "location": body["location"],
            "retrieve_date": "2026-12-06T02:00:00.000Z",
            "retries": 3,
            "retry_interval": 60,
        },
    )
    for status in ("Downloading", "Downloaded", "Idle", "Installing", "Installed"):
        await cp.call(call.FirmwareStatusNotification(status))
    [request] = (await server.api.get("/API/Firmware/CP1")).json()
    assert request["requestId"] == answer["requestId"]
    assert (request["answer"], request["status"]) == ("Accepted", "Installed")
    # Idle says nothing is in progress: no step of this request.
    assert statuses(request) == ["Downloading", "Downloaded", "Installing", "Installed"]
    assert request["retries"] == 3
    assert request["retryInterval"] == 60
    status = (await server.api.get("/API/Status/CP1")).json()
    assert status["firmwareStatus"] == "Installed"


async def test_a_2_0_1_update_carries_its_request_id_and_only_its_own_progress_counts(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected201(server, charger201)
    response = await server.api.post(
        "/API/UpdateFirmware/CP2", json={"location": "ftp://fw.example.com/v3.bin"}
    )
    answer = response.json()
    assert (response.status_code, answer["status"]) == (200, "Accepted")
    action, request = await next_request(cp)
    assert action == "UpdateFirmware"
    assert request["request_id"] == answer["requestId"]
    assert request["firmware"]["location"] == "ftp://fw.example.com/v3.bin"
    assert request["firmware"]["retrieve_date_time"].endswith("Z")
    other = answer["requestId"] + 1
    await cp.call(call201.FirmwareStatusNotification("DownloadFailed", request_id=other))
    for status in ("DownloadScheduled", "Downloading", "Downloaded", "SignatureVerified"):
        await cp.call(call201.FirmwareStatusNotification(status, request_id=answer["requestId"]))
    for status in ("InstallScheduled", "InstallRebooting", "Installing", "Installed"):
        await cp.call(call201.FirmwareStatusNotification(status, request_id=answer["requestId"]))
    [stored] = (await server.api.get("/API/Firmware/CP2")).json()
    assert statuses(stored)[0] == "DownloadScheduled"
    assert stored["status"] == "Installed"
    assert len(stored["history"]) == 8


async def test_a_progress_history_is_bounded(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected201(server, charger201)
    response = await server.api.post(
        "/API/UpdateFirmware/CP2", json={"location": "https://fw.example.com/x.bin"}
    )
    request_id = response.json()["requestId"]
    for _ in range(HISTORY_KEPT + 5):
        await cp.call(call201.FirmwareStatusNotification("DownloadPaused", request_id=request_id))
    await cp.call(call201.FirmwareStatusNotification("Downloading", request_id=request_id))
    [stored] = (await server.api.get("/API/Firmware/CP2")).json()
    assert len(stored["history"]) == HISTORY_KEPT
    assert stored["history"][-1]["status"] == "Downloading"


async def test_a_refused_update_is_kept_with_the_refusal(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected201(server, charger201)
    cp.answers["UpdateFirmware"] = {"status": "InvalidCertificate"}
    response = await server.api.post(
        "/API/UpdateFirmware/CP2", json={"location": "https://fw.example.com/x.bin"}
    )
    assert response.json()["status"] == "InvalidCertificate"
    [stored] = (await server.api.get("/API/Firmware/CP2")).json()
    assert (stored["answer"], stored["status"], stored["history"]) == (
        "InvalidCertificate",
        None,
        [],
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"location": "not a uri"},
        {"location": "https://x.example.com/" + "a" * 500},
        {"location": "https://x.example.com/a", "retries": -1},
        {"location": "https://x.example.com/a", "retryInterval": 86_401},
        {"location": "https://x.example.com/a", "retrieveDate": "2026-12-06T02:00:00"},
        {"location": "https://x.example.com/a", "signature": "x"},
    ],
)
async def test_bad_update_requests_are_refused_before_anything_is_sent(
    server: RunningServer, charger: ConnectCharger, body: Request
) -> None:
    cp = await connected16(server, charger)
    response = await server.api.post("/API/UpdateFirmware/CP1", json=body)
    assert (response.status_code, response.json()["status"]) == (400, "InvalidParameter")
    assert cp.received.empty()
    assert (await server.api.get("/API/Firmware/CP1")).json() == []


async def test_an_offline_charger_gets_no_request(server: RunningServer) -> None:
    await add_charge_point(server.runtime.db, "CP9")
    response = await server.api.post(
        "/API/UpdateFirmware/CP9", json={"location": "https://x.example.com/a"}
    )
    assert (response.status_code, response.json()["status"]) == (404, "ChargerOffline")
    response = await server.api.post("/API/GetDiagnostics/CP9", json={})
    assert response.status_code == 404
    async with server.runtime.db.reading() as session:
        counts = [
            await session.scalar(select(func.count()).select_from(model))
            for model in (FirmwareUpdate, LogUpload)
        ]
    assert counts == [0, 0]


async def test_a_charger_that_never_answers_leaves_a_timed_out_request(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected16(server, charger)
    cp.answers["UpdateFirmware"] = Late(5)
    response = await server.api.post(
        "/API/UpdateFirmware/CP1", json={"location": "https://x.example.com/a"}
    )
    assert response.json()["status"] == "Timeout"
    [stored] = (await server.api.get("/API/Firmware/CP1")).json()
    assert stored["answer"] == "Timeout"


# -- diagnostics and logs ------------------------------------------------------------


async def test_1_6_diagnostics_are_uploaded_to_ocpp_core_and_downloaded_by_the_operator(
    server: RunningServer, charger: ConnectCharger, settings: Settings
) -> None:
    cp = await connected16(server, charger)
    body = {"oldestTimestamp": "2026-12-01T00:00:00Z", "latestTimestamp": "2026-12-05T00:00:00Z"}
    response = await server.api.post("/API/GetDiagnostics/CP1", json=body)
    answer = response.json()
    assert (response.status_code, answer["status"]) == (200, "Accepted")
    action, request = await next_request(cp)
    assert action == "GetDiagnostics"
    assert (request["start_time"], request["stop_time"]) == (
        "2026-12-01T00:00:00.000Z",
        "2026-12-05T00:00:00.000Z",
    )
    location = request["location"]
    assert location.startswith(f"{server.http_url}/diagnostics/upload/")
    await cp.call(call.DiagnosticsStatusNotification("Uploading"))
    async with httpx.AsyncClient() as http:
        uploaded = await http.put(f"{location}/diagnostics.zip", content=b"PK\x03\x04 logs")
        assert (uploaded.status_code, uploaded.json()) == (200, {"status": "Uploaded"})
        again = await http.put(f"{location}/diagnostics.zip", content=b"other")
        assert (again.status_code, again.json()["status"]) == (403, "Spent")
    await cp.call(call.DiagnosticsStatusNotification("Uploaded"))
    [listed] = (await server.api.get("/API/Diagnostics/CP1")).json()
    assert listed["requestId"] == answer["requestId"]
    assert (listed["fileName"], listed["sizeBytes"]) == ("diagnostics.zip", len(b"PK\x03\x04 logs"))
    assert (listed["status"], statuses(listed)) == ("Uploaded", ["Uploading", "Uploaded"])
    file = await server.api.get(f"/API/Diagnostics/CP1/{answer['requestId']}/file")
    assert (file.status_code, file.content) == (200, b"PK\x03\x04 logs")
    assert 'filename="diagnostics.zip"' in file.headers["content-disposition"]
    # The token is no file name: only the request's id names the file.
    async with server.runtime.db.reading() as session:
        row_id = await session.scalar(
            select(LogUpload.id).where(LogUpload.request_id == answer["requestId"])
        )
    assert [p.name for p in settings.diagnostics.directory.iterdir()] == [str(row_id)]


async def test_a_2_0_1_security_log_comes_as_a_multipart_form(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected201(server, charger201)
    response = await server.api.post("/API/GetLog/CP2", json={"logType": "SecurityLog"})
    answer = response.json()
    assert answer["status"] == "Accepted"
    action, request = await next_request(cp)
    assert (action, request["log_type"], request["request_id"]) == (
        "GetLog",
        "SecurityLog",
        answer["requestId"],
    )
    location = request["log"]["remote_location"]
    files = {"file": ("../../etc/security.log", b"line 1\nline 2\n", "text/plain")}
    async with httpx.AsyncClient() as http:
        uploaded = await http.post(location, data={"note": "x"}, files=files)
    assert uploaded.status_code == 200
    await cp.call(call201.LogStatusNotification("Uploaded", request_id=answer["requestId"]))
    [listed] = (await server.api.get("/API/Diagnostics/CP2")).json()
    assert (listed["logType"], listed["status"]) == ("SecurityLog", "Uploaded")
    assert (listed["fileName"], listed["sizeBytes"]) == ("security.log", 14)
    file = await server.api.get(f"/API/Diagnostics/CP2/{answer['requestId']}/file")
    assert file.content == b"line 1\nline 2\n"


async def test_a_1_6_security_log_is_asked_with_the_security_extension(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected16(server, charger)
    body = {"logType": "SecurityLog", "retries": 2, "latestTimestamp": "2026-12-05T00:00:00Z"}
    answer = (await server.api.post("/API/GetLog/CP1", json=body)).json()
    assert answer["status"] == "Accepted"
    action, request = await next_request(cp)
    assert (action, request["log_type"], request["request_id"], request["retries"]) == (
        "GetLog",
        "SecurityLog",
        answer["requestId"],
        2,
    )
    assert request["log"]["latest_timestamp"] == "2026-12-05T00:00:00.000Z"


@pytest.mark.parametrize(
    "body",
    [
        {"logType": "Everything"},
        {"oldestTimestamp": "2026-12-05T00:00:00Z", "latestTimestamp": "2026-12-01T00:00:00Z"},
        {"oldestTimestamp": "yesterday"},
        {"retries": 101},
        {"location": "https://elsewhere.example.com/"},
    ],
)
async def test_bad_log_requests_are_refused_before_anything_is_sent(
    server: RunningServer, charger201: ConnectCharger201, body: Request
) -> None:
    cp = await connected201(server, charger201)
    response = await server.api.post("/API/GetLog/CP2", json=body)
    assert (response.status_code, response.json()["status"]) == (400, "InvalidParameter")
    assert cp.received.empty()


async def test_no_file_to_download_is_a_404(server: RunningServer, charger: ConnectCharger) -> None:
    await connected16(server, charger)
    answer = (await server.api.post("/API/GetDiagnostics/CP1", json={})).json()
    for request_id in (answer["requestId"], answer["requestId"] + 1):
        response = await server.api.get(f"/API/Diagnostics/CP1/{request_id}/file")
        assert (response.status_code, response.json()["status"]) == (404, "NoFile")


# -- TriggerMessage --------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
    ],
)
async def test_every_1_6_trigger_is_sent(
    server: RunningServer, charger: ConnectCharger, message: str
) -> None:
    cp = await connected16(server, charger)
    body = {"message": message, "connectorId": 1}
    response = await server.api.post("/API/TriggerMessage/CP1", json=body)
    assert (response.status_code, response.json()) == (200, {"status": "Accepted"})
    assert await next_request(cp) == (
        "TriggerMessage",
        {"requested_message": message, "connector_id": 1},
    )


@pytest.mark.parametrize(
    "message",
    [
        "BootNotification",
        "LogStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "SignChargingStationCertificate",
        "SignV2GCertificate",
        "StatusNotification",
        "TransactionEvent",
        "SignCombinedCertificate",
        "PublishFirmwareStatusNotification",
    ],
)
async def test_every_2_0_1_trigger_is_sent(
    server: RunningServer, charger201: ConnectCharger201, message: str
) -> None:
    cp = await connected201(server, charger201)
    response = await server.api.post("/API/TriggerMessage/CP2", json={"message": message})
    assert (response.status_code, response.json()) == (200, {"status": "Accepted"})
    assert await next_request(cp) == ("TriggerMessage", {"requested_message": message})


@pytest.mark.parametrize(
    "message", ["LogStatusNotification", "TransactionEvent", "SignV2GCertificate"]
)
async def test_a_trigger_1_6_lacks_is_a_400_and_not_sent(
    server: RunningServer, charger: ConnectCharger, message: str
) -> None:
    cp = await connected16(server, charger)
    for response in (
        await server.api.post("/API/TriggerMessage/CP1", json={"message": message}),
        await server.api.get(f"/API/TriggerMessage/CP1/{message}"),
    ):
        assert (response.status_code, response.json()["status"]) == (400, "InvalidParameter")
        assert "OCPP 1.6 can't trigger" in response.json()["error"]
    assert cp.received.empty()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"message": "StartTransaction"}, "InvalidMessage"),
        ({"message": "heartbeat"}, "InvalidMessage"),
        ({"message": "Heartbeat", "connectorId": -1}, "InvalidParameter"),
        ({"message": "Heartbeat", "evse": 1}, "InvalidParameter"),
        ({"message": "x" * 51}, "InvalidParameter"),
    ],
)
async def test_bad_triggers_are_refused(
    server: RunningServer, charger201: ConnectCharger201, body: Request, status: str
) -> None:
    cp = await connected201(server, charger201)
    response = await server.api.post("/API/TriggerMessage/CP2", json=body)
    assert (response.status_code, response.json()["status"]) == (400, status)
    assert cp.received.empty()


async def test_every_new_operation_is_in_the_openapi_document_with_its_models(
    server: RunningServer,
) -> None:
    paths = (await server.api.get("/openapi.json")).json()["paths"]
    for path in (
        "/API/UpdateFirmware/{cp}",
        "/API/GetDiagnostics/{cp}",
        "/API/GetLog/{cp}",
        "/API/TriggerMessage/{cp}",
    ):
        post = paths[path]["post"]
        assert "$ref" in post["requestBody"]["content"]["application/json"]["schema"], path
        assert "$ref" in post["responses"]["200"]["content"]["application/json"]["schema"], path
    for path in ("/API/Firmware/{cp}", "/API/Diagnostics/{cp}"):
        answer = paths[path]["get"]["responses"]["200"]["content"]["application/json"]
        assert "$ref" in answer["schema"]["items"], path
    download = paths["/API/Diagnostics/{cp}/{request_id}/file"]["get"]["responses"]["200"]
    assert "application/octet-stream" in download["content"]


async def test_a_triggered_publish_firmware_status_is_taken(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected201(server, charger201)
    answer = await cp.call(call201.PublishFirmwareStatusNotification("Published", request_id=7))
    assert answer is not None


async def test_a_charger_keeps_its_newest_requests_and_the_oldest_files_go_with_them(
    server: RunningServer, charger: ConnectCharger, settings: Settings
) -> None:
    cp = await connected16(server, charger)
    first = (await server.api.post("/API/GetDiagnostics/CP1", json={})).json()["requestId"]
    async with httpx.AsyncClient() as http:
        uploaded = await http.put(cp.requests[-1][1]["location"], content=b"old")
    assert uploaded.status_code == 200
    assert len(list(settings.diagnostics.directory.iterdir())) == 1
    for _ in range(REQUESTS_KEPT):
        await server.api.post("/API/GetDiagnostics/CP1", json={})
    listed = (await server.api.get("/API/Diagnostics/CP1")).json()
    assert len(listed) == REQUESTS_KEPT
    assert first not in {entry["requestId"] for entry in listed}
    assert list(settings.diagnostics.directory.iterdir()) == []
