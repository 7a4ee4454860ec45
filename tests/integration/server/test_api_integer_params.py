"""Integers in API paths and query strings beyond what a column holds: a 400, never a 500.

The routes are found by walking the app, so a route added later is covered too.
"""

from __future__ import annotations

import pytest

from builders import add_charge_point
from routes import int_params
from servers import RunningServer

# What the other parts of a route need to reach its handler.
PATH = {
    "cp": "CP1",
    "mode": "Soft",
    "limit": "16A",
    "tag": "TAG1",
    "report": "FullInventory",
    "message": "Heartbeat",
    "availability": "Operative",
}
QUERY = {"evse": "1"}  # a connector needs its EVSE
# A body the routes that take one accept, so that only the integer decides the answer.
BODY = {
    "stackLevel": 1,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingRateUnit": "A",
    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
}
# Just above PostgreSQL's int4, above SQLite's int64, beyond Python's 4300-digit int parsing.
TOO_LARGE = [str(2**31), str(2**63), "9" * 5000]


@pytest.mark.parametrize("value", TOO_LARGE, ids=["int4", "int8", "5000-digits"])
async def test_an_integer_too_large_for_its_column_is_a_400(
    server: RunningServer, value: str
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    params = int_params(server.app)
    assert {p.name for p in params} >= {"conn", "transaction_id", "evse", "request_id"}

    wrong = []
    for param in params:
        body = BODY if param.body else None
        fine = await server.api.request(param.method, param.url("1", PATH, QUERY), json=body)
        assert fine.status_code not in (400, 500), (param, fine.text)  # it reaches the handler
        answer = await server.api.request(param.method, param.url(value, PATH, QUERY), json=body)
        if answer.status_code != 400 or answer.json()["status"] != "InvalidParameter":
            wrong.append(f"{param.method} {param.path} {param.name}: {answer.status_code}")
    assert wrong == []
