"""A connector an operator reserved is offered to no paying driver, and a connector a paid
session holds can't be reserved by an operator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from builders import add_tag
from integration.payments.payflow import (
    CP,
    connector_status,
    create_answer,
    events,
    priced_charger,
)
from ocpp_core.clock import format_timestamp, utc_now
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim


async def reserve(server: RunningServer, connector: int = 1) -> httpx.Response:
    body: dict[str, Any] = {
        "chargePointId": CP,
        "connectorId": connector,
        "idTag": "OPS",
        "expiryDateTime": format_timestamp(utc_now() + timedelta(hours=1)),
    }
    return await server.api.post("/API/ReserveNow", json=body)


async def test_a_driver_cannot_pay_for_a_connector_an_operator_reserved(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger)
    await connector_status(cp, "Available", connector_id=2)
    await add_tag(server.runtime.db, "OPS")
    reservation_id = (await reserve(server)).json()["reservation"]["reservationId"]

    refused = await create_answer(server, connector=1)

    assert (refused.status_code, refused.json()) == (
        409,
        {"status": "ConnectorBusy", "reason": "OperatorReservation"},
    )
    assert await events(stripe_sim) == []
    assert (await create_answer(server, connector=2, driver="d2")).json()["status"] == "Redirect"
    await server.api.post("/API/CancelReservation", json={"reservationId": reservation_id})
    assert (await create_answer(server, connector=1, driver="d1")).json()["status"] == "Redirect"


async def test_an_operator_cannot_reserve_a_connector_a_paid_session_holds(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger)
    await add_tag(server.runtime.db, "OPS")
    assert (await create_answer(server)).json()["status"] == "Redirect"

    response = await reserve(server)

    assert (response.status_code, response.json()["status"]) == (409, "ActiveReservation")
    assert [action for action, _ in cp.requests] == []
