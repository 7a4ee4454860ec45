"""Integers in page URLs, query strings and forms that no column holds: a 4xx, never a 500.

The routes taking an integer parameter are found by walking the app; those that
read a number typed as text (filters, the drivers' short links) are listed here.
"""

from __future__ import annotations

import httpx
import pytest

from builders import add_charge_point
from integration.management.pages import ADMIN, RunningManagement, csrf_token, log_in
from routes import int_params
from servers import RunningServer

# Just above PostgreSQL's int4, above SQLite's int64, beyond Python's 4300-digit int
# parsing; and a digit to str.isdigit() that int() refuses.
TOO_LARGE = [str(2**31), str(2**63), "9" * 5000, "²"]
IDS = ["int4", "int8", "5000-digits", "superscript"]
# What a form posted to such a route needs to reach its handler, and changes nothing there.
FORMS = {("POST", "/Account/Users/{user_id}"): {"action": "enable"}}


@pytest.fixture
async def admin(
    server: RunningServer, management: RunningManagement, client: httpx.AsyncClient
) -> httpx.AsyncClient:
    await add_charge_point(server.runtime.db, "CP1")
    await log_in(client, *ADMIN)
    client.headers["X-CSRF-Token"] = csrf_token((await client.get("/")).text)
    return client


@pytest.mark.parametrize("value", TOO_LARGE, ids=IDS)
async def test_an_integer_parameter_too_large_for_its_column_is_a_400(
    management: RunningManagement, admin: httpx.AsyncClient, value: str
) -> None:
    params = int_params(management.app)
    assert {p.path for p in params} >= {
        "/Home/Connector/{cp_id}/{conn}",
        "/Home/Connector/{cp_id}/{conn}/Live",
        "/Home/QR/{cp_id}/{conn}.png",
    }

    wrong = []
    for param in params:
        form = FORMS.get((param.method, param.path))
        fine = await admin.request(param.method, param.url("1", {"cp_id": "CP1"}, {}), data=form)
        assert fine.status_code not in (400, 500), (param, fine.text)  # it reaches the handler
        url = param.url(value, {"cp_id": "CP1"}, {})
        answer = await admin.request(param.method, url, data=form)
        if answer.status_code not in (400, 404):
            wrong.append(f"{param.method} {param.path} {param.name}: {answer.status_code}")
    assert wrong == []


@pytest.mark.parametrize("value", TOO_LARGE, ids=IDS)
async def test_a_number_typed_as_text_too_large_for_its_column_is_refused(
    admin: httpx.AsyncClient, value: str
) -> None:
    requests = [
        ("GET", f"/cp/CP1/{value}", None),
        ("GET", f"/Public/Start?cp=CP1&conn={value}", None),
        ("POST", "/Public/Start", {"cp": "CP1", "conn": value, "tag": "x"}),
        ("POST", "/Public/CancelRecovery", {"cp": "CP1", "conn": value}),
        ("GET", f"/Home/Transactions?conn={value}", None),
        ("GET", f"/Home/Export?conn={value}", None),
        ("GET", f"/Home/ExportXlsx?conn={value}", None),
    ]
    wrong = []
    for method, url, form in requests:
        answer = await admin.request(method, url, data=form)
        if answer.status_code >= 500:
            wrong.append(f"{method} {url[:60]}: {answer.status_code}")
    assert wrong == []
