"""A charger's password, set through the API or the device-model page, is kept nowhere.

Not in the message log's rows or pages, not in the API's answers, not in stored
reports, and not in the application log, down to the request lines and the
websocket frames the libraries under the apps log at debug level.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call
from sqlalchemy import select

from builders import add_charge_point, timestamp
from integration.management.admin_helpers import follow, post_form
from integration.management.pages import ADMIN, log_in
from integration.management.test_admin_device_model import PAGE, booted, flash_of
from ocpp_core.db.models import ChargerReport, MessageLogEntry
from servers import ConnectCharger, ConnectCharger201, RunningServer
from stripe_harness import eventually

SECRET_16 = "0123456789abcdef0123"
SECRET_201 = "s3cret-Basic-Auth-pw"
# The libraries log to loggers that do not reach the root logger, where caplog listens.
_OWN_HANDLERS = ("uvicorn", "uvicorn.access")
# The test chargers' side of the socket: what a charger logs about itself is not ours.
_CHARGER_SIDE = ("ocpp", "websockets.client")


@pytest.fixture
def app_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Everything the apps and the libraries under them log, down to debug."""
    caplog.set_level(logging.DEBUG)
    for name in ("uvicorn.error", "uvicorn.access", "httpx"):
        caplog.set_level(logging.DEBUG, logger=name)
    for name in _OWN_HANDLERS:
        logging.getLogger(name).addHandler(caplog.handler)
    yield caplog
    for name in _OWN_HANDLERS:
        logging.getLogger(name).removeHandler(caplog.handler)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    kept = [
        record
        for record in caplog.records
        if not any(record.name == n or record.name.startswith(f"{n}.") for n in _CHARGER_SIDE)
    ]
    return "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in kept)


async def log_rows(server: RunningServer, count: int) -> list[str]:
    """The stored text of every message log row, once ``count`` rows were written."""

    async def written() -> bool:
        async with server.runtime.db.session() as session:
            rows = (await session.scalars(select(MessageLogEntry))).all()
        return len(rows) >= count

    await eventually(written)
    async with server.runtime.db.session() as session:
        rows = (await session.scalars(select(MessageLogEntry))).all()
    return [f"{row.action} {row.payload} {row.answer}" for row in rows]


async def test_a_1_6_authorization_key_is_kept_nowhere(
    server: RunningServer,
    charger: ConnectCharger,
    client: httpx.AsyncClient,
    app_log: pytest.LogCaptureFixture,
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await cp.call(call16.BootNotification("Wallbox 22", "ACME"))
    # A charger that (against the security white paper) reads the key back.
    reported = [{"key": "AuthorizationKey", "readonly": False, "value": SECRET_16}]
    cp.answers["GetConfiguration"] = {"configuration_key": reported}

    changed = await server.api.get(f"/API/ChangeConfiguration/CP1/AuthorizationKey/{SECRET_16}")
    read = await server.api.get("/API/GetConfiguration/CP1/AuthorizationKey")
    rows = await log_rows(server, 2)
    await log_in(client, *ADMIN)
    log_page = (await client.get("/Home/MessageLog", params={"cp": "CP1"})).text

    assert cp.requests[0] == (
        "ChangeConfiguration",
        {"key": "AuthorizationKey", "value": SECRET_16},
    )
    assert changed.json() == {"status": "Accepted"}
    assert read.json()["configurationKey"][0]["value"] == "[redacted]"
    assert [row.split()[0] for row in rows] == ["ChangeConfiguration", "GetConfiguration"]
    assert all("[redacted]" in row and SECRET_16 not in row for row in rows)
    assert "ChangeConfiguration" in log_page
    assert SECRET_16 not in log_page
    application_log = logged(app_log)
    assert "/API/ChangeConfiguration/CP1/AuthorizationKey/[redacted]" in application_log
    assert "TEXT [" in application_log  # the frames at debug level, by their size
    assert SECRET_16 not in application_log


async def test_a_2_0_1_basic_auth_password_is_kept_nowhere(
    server: RunningServer,
    charger201: ConnectCharger201,
    client: httpx.AsyncClient,
    app_log: pytest.LogCaptureFixture,
) -> None:
    cp = await booted(server, charger201)
    names = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}
    cp.answers["GetVariables"] = {
        "get_variable_result": [
            {"attribute_status": "Accepted", "attribute_value": SECRET_201, **names}
        ]
    }
    await log_in(client, *ADMIN)

    form = {"component": "SecurityCtrlr", "variable": "BasicAuthPassword", "value": SECRET_201}
    set_page = await follow(client, await post_form(client, PAGE, {"action": "set", **form}))
    read = await server.api.get("/API/GetVariables/CP2/SecurityCtrlr/BasicAuthPassword")
    attribute = {"value": SECRET_201, "mutability": "WriteOnly"}
    await cp.call(
        call.NotifyReport(5, timestamp(), 0, [{**names, "variable_attribute": [attribute]}])
    )
    report = await server.api.get("/API/Report/CP2")
    device_model = (await client.get(PAGE)).text
    rows = await log_rows(server, 3)  # SetVariables, GetVariables, NotifyReport
    log_page = (await client.get("/Home/MessageLog", params={"cp": "CP2"})).text

    [request] = [sent for action, sent in cp.requests if action == "SetVariables"]
    assert request["set_variable_data"][0]["attribute_value"] == SECRET_201
    assert flash_of(set_page) == "Set SecurityCtrlr.BasicAuthPassword to [redacted]: Accepted."
    assert read.json()["getVariableResult"][0]["attributeValue"] == "[redacted]"
    assert report.json()["reportData"][0]["variableAttribute"][0]["value"] == "[redacted]"
    async with server.runtime.db.session() as session:
        stored = await session.scalars(select(ChargerReport.data))
        assert all(SECRET_201 not in data for data in stored)
    for shown in (set_page, read.text, report.text, device_model, log_page, *rows):
        assert SECRET_201 not in shown
    application_log = logged(app_log)
    assert "/SetVariables/CP2/SecurityCtrlr/BasicAuthPassword/[redacted]" in application_log
    assert SECRET_201 not in application_log
