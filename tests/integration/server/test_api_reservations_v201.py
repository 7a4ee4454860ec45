"""Operators' reservations on OCPP 2.0.1: by EVSE or connector type, ended by the charger's
ReservationStatusUpdate or used by a TransactionEvent that names it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from ocpp.v201 import call

from builders import add_charge_point, add_tag
from chargers import TestCharger201
from servers import ConnectCharger201, RunningServer

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@pytest.fixture
def clock(server: RunningServer) -> None:
    server.runtime.clock = lambda: START


async def connected(server: RunningServer, charger201: ConnectCharger201) -> TestCharger201:
    db = server.runtime.db
    await add_charge_point(db, "CP2")
    await add_tag(db, "FLEET")
    await add_tag(db, "ALICE", parent="FLEET")
    await add_tag(db, "EVE")
    return await charger201("CP2")


async def next_request(cp: TestCharger201) -> tuple[str, dict[str, Any]]:
    async with asyncio.timeout(2):
        return await cp.received.get()


async def reserve(server: RunningServer, **changes: Any) -> httpx.Response:
    body = {
        "chargePointId": "CP2",
        "connectorId": 1,
        "idTag": "ALICE",
        "expiryDateTime": stamp(START + timedelta(minutes=30)),
        **changes,
    }
    return await server.api.post("/API/ReserveNow", json=body)


async def started(cp: TestCharger201, uid: str, tag: str, **fields: Any) -> Any:
    return await cp.call(
        call.TransactionEvent(
            event_type="Started",
            timestamp=stamp(START),
            trigger_reason="Authorized",
            seq_no=0,
            transaction_info={"transaction_id": uid},
            evse={"id": 1, "connector_id": 1},
            id_token={"id_token": tag, "type": "ISO14443"},
            **fields,
        )
    )


async def listed(server: RunningServer) -> list[dict[str, Any]]:
    page = (await server.api.get("/API/Reservations?cp=CP2")).json()
    reservations: list[dict[str, Any]] = page["reservations"]
    return reservations


@pytest.mark.usefixtures("clock")
async def test_a_2_0_1_reservation_names_the_evse_the_token_and_its_group(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected(server, charger201)

    response = await reserve(server, connectorType="cType2")

    assert response.json()["status"] == "Accepted"
    reservation_id = response.json()["reservation"]["reservationId"]
    assert await next_request(cp) == (
        "ReserveNow",
        {
            "id": reservation_id,
            "expiry_date_time": "2026-12-01T12:30:00.000Z",
            "connector_type": "cType2",
            "id_token": {"id_token": "ALICE", "type": "ISO14443"},
            "evse_id": 1,
            "group_id_token": {"id_token": "FLEET", "type": "Central"},
        },
    )


@pytest.mark.usefixtures("clock")
async def test_any_evse_is_reserved_without_an_evse_id(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected(server, charger201)

    await reserve(server, connectorId=0)

    action, request = await next_request(cp)
    assert action == "ReserveNow"
    assert "evse_id" not in request


@pytest.mark.usefixtures("clock")
@pytest.mark.parametrize("ending", ["Expired", "Removed"])
async def test_the_chargers_status_update_ends_the_reservation(
    server: RunningServer, charger201: ConnectCharger201, ending: str
) -> None:
    cp = await connected(server, charger201)
    reservation_id = (await reserve(server)).json()["reservation"]["reservationId"]

    await cp.call(call.ReservationStatusUpdate(reservation_id, ending))

    assert (await listed(server))[0]["status"] == ending
    assert (await started(cp, "tx-eve", "EVE")).id_token_info["status"] == "Accepted"


@pytest.mark.usefixtures("clock")
async def test_an_update_for_an_unknown_reservation_is_acknowledged(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected(server, charger201)
    assert await cp.call(call.ReservationStatusUpdate(4242, "Expired")) is not None


@pytest.mark.usefixtures("clock")
async def test_another_tag_is_refused_on_the_reserved_evse_and_the_reserved_one_uses_it(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected(server, charger201)
    reservation_id = (await reserve(server)).json()["reservation"]["reservationId"]

    refused = await started(cp, "tx-eve", "EVE")
    used = await started(cp, "tx-alice", "ALICE", reservation_id=reservation_id)

    assert refused.id_token_info["status"] == "Invalid"
    assert used.id_token_info["status"] == "Accepted"
    reservation = (await listed(server))[0]
    assert reservation["status"] == "Used"
    assert reservation["transactionId"] is not None


@pytest.mark.usefixtures("clock")
async def test_cancel_on_2_0_1(server: RunningServer, charger201: ConnectCharger201) -> None:
    cp = await connected(server, charger201)
    reservation_id = (await reserve(server)).json()["reservation"]["reservationId"]
    await next_request(cp)
    cp.answers["CancelReservation"] = {"status": "Rejected"}  # the charger had forgotten it

    response = await server.api.post(
        "/API/CancelReservation", json={"reservationId": reservation_id}
    )

    assert response.json()["status"] == "Rejected"
    assert response.json()["reservation"]["status"] == "Cancelled"
    assert await next_request(cp) == ("CancelReservation", {"reservation_id": reservation_id})
