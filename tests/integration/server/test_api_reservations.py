"""Operators' reservations through ``/API/ReserveNow``, ``/API/CancelReservation`` and
``/API/Reservations``, against the ``ocpp`` library's 1.6 charger on a real websocket.

The server's clock is stepped by the test, so expiry is a matter of setting it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from ocpp.v16 import call

from builders import add_charge_point, add_tag
from chargers import TestCharger
from ocpp_core.db.models import Transaction
from servers import ConnectCharger, RunningServer

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@pytest.fixture
def clock(server: RunningServer) -> Clock:
    clock = Clock()
    server.runtime.clock = clock
    return clock


async def next_request(cp: TestCharger) -> tuple[str, dict[str, Any]]:
    async with asyncio.timeout(2):
        return await cp.received.get()


async def connected(server: RunningServer, charger: ConnectCharger) -> TestCharger:
    db = server.runtime.db
    await add_charge_point(db, "CP1")
    await add_tag(db, "FLEET")
    await add_tag(db, "ALICE", parent="FLEET")
    await add_tag(db, "BOB", parent="FLEET")
    await add_tag(db, "EVE")
    return await charger("CP1")


def reserve_body(**changes: Any) -> dict[str, Any]:
    body = {
        "chargePointId": "CP1",
        "connectorId": 1,
        "idTag": "ALICE",
        "expiryDateTime": stamp(START + timedelta(hours=1)),
        "createdBy": "alice.operator",
    }
    return {**body, **changes}


async def reserve(server: RunningServer, **changes: Any) -> httpx.Response:
    return await server.api.post("/API/ReserveNow", json=reserve_body(**changes))


async def start(cp: TestCharger, tag: str, **fields: Any) -> Any:
    return await cp.call(
        call.StartTransaction(
            connector_id=1, id_tag=tag, meter_start=0, timestamp=stamp(START), **fields
        )
    )


async def test_a_reservation_reaches_the_charger_and_is_listed(
    server: RunningServer, charger: ConnectCharger, clock: Clock
) -> None:
    cp = await connected(server, charger)

    response = await reserve(server)

    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "Accepted"
    reservation = answer["reservation"]
    assert reservation["status"] == "Accepted"
    assert (reservation["idTag"], reservation["parentIdTag"]) == ("ALICE", "FLEET")
    assert reservation["createdBy"] == "alice.operator"
    assert await next_request(cp) == (
        "ReserveNow",
        {
            "connector_id": 1,
            "expiry_date": "2026-12-01T13:00:00.000Z",
            "id_tag": "ALICE",
            "parent_id_tag": "FLEET",
            "reservation_id": reservation["reservationId"],
        },
    )
    listed = (await server.api.get("/API/Reservations?cp=CP1&active=true")).json()
    assert listed == {"total": 1, "reservations": [reservation]}


async def test_cancel_reaches_the_charger_and_ends_the_reservation(
    server: RunningServer, charger: ConnectCharger, clock: Clock
) -> None:
    cp = await connected(server, charger)
    reservation_id = (await reserve(server)).json()["reservation"]["reservationId"]
    await next_request(cp)

    response = await server.api.post(
        "/API/CancelReservation", json={"reservationId": reservation_id}
    )

    assert response.status_code == 200
    assert response.json()["status"] == "Accepted"
    assert response.json()["reservation"]["status"] == "Cancelled"
    assert await next_request(cp) == ("CancelReservation", {"reservation_id": reservation_id})
    again = await server.api.post("/API/CancelReservation", json={"reservationId": reservation_id})
    assert (again.status_code, again.json()["status"]) == (409, "NotActive")
    listed = (await server.api.get("/API/Reservations?active=true")).json()
    assert listed == {"total": 0, "reservations": []}


@pytest.mark.parametrize("refusal", ["Occupied", "Faulted", "Unavailable", "Rejected"])
async def test_a_refused_reservation_keeps_the_chargers_word_and_holds_nothing(
    server: RunningServer, charger: ConnectCharger, clock: Clock, refusal: str
) -> None:
    cp = await connected(server, charger)
    cp.answers["ReserveNow"] = {"status": refusal}

    response = await reserve(server)

    assert response.json()["status"] == refusal
    assert response.json()["reservation"]["status"] == refusal
    assert (await reserve(server)).status_code == 200  # the connector was never held


async def test_only_the_reserved_tag_or_its_parents_tags_start_on_the_connector(
    server: RunningServer, charger: ConnectCharger, clock: Clock
) -> None:
    cp = await connected(server, charger)
    await reserve(server)

    refused = await start(cp, "EVE")
    sibling = await start(cp, "BOB")

    assert refused.id_tag_info["status"] == "Invalid"
    assert sibling.id_tag_info["status"] == "Accepted"
    listed = (await server.api.get("/API/Reservations")).json()["reservations"]
    assert listed[0]["status"] == "Used"
    assert listed[0]["transactionId"] == sibling.transaction_id


async def test_a_start_naming_the_reservation_uses_it(
    server: RunningServer, charger: ConnectCharger, clock: Clock
) -> None:
    cp = await connected(server, charger)
    reservation_id = (await reserve(server)).json()["reservation"]["reservationId"]

    started = await start(cp, "ALICE", reservation_id=reservation_id)

    assert started.id_tag_info["status"] == "Accepted"
    async with server.runtime.db.session() as session:
        tx = await session.get(Transaction, started.transaction_id)
    assert tx is not None
    assert tx.start_result == "Accepted"
    listed = (await server.api.get("/API/Reservations")).json()["reservations"]
    assert (listed[0]["status"], listed[0]["transactionId"]) == ("Used", tx.id)


async def test_an_expired_reservation_holds_nothing(
    server: RunningServer, charger: ConnectCharger, clock: Clock
) -> None:
    cp = await connected(server, charger)
    await reserve(server)
    clock.now = START + timedelta(hours=1)

    started = await start(cp, "EVE")
    listed = (await server.api.get("/API/Reservations")).json()["reservations"]

    assert started.id_tag_info["status"] == "Accepted"
    assert listed[0]["status"] == "Expired"
    cancel = {"reservationId": listed[0]["reservationId"]}
    response = await server.api.post("/API/CancelReservation", json=cancel)
    assert response.status_code == 409


async def test_one_live_reservation_per_connector(
    server: RunningServer, charger: ConnectCharger, clock: Clock
) -> None:
    await connected(server, charger)
    await reserve(server)

    second = await reserve(server, idTag="EVE")

    assert (second.status_code, second.json()["status"]) == (409, "ConnectorReserved")
    assert (await reserve(server, idTag="EVE", connectorId=2)).status_code == 200


async def test_an_offline_charger_gets_no_reservation(server: RunningServer, clock: Clock) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "ALICE")

    response = await reserve(server)

    assert (response.status_code, response.json()["status"]) == (404, "ChargerOffline")
    listed = (await server.api.get("/API/Reservations")).json()["reservations"]
    assert listed[0]["status"] == "Failed"
    assert (await reserve(server)).status_code == 404  # nothing held the connector


async def test_1_6_knows_no_connector_types(
    server: RunningServer, charger: ConnectCharger, clock: Clock
) -> None:
    cp = await connected(server, charger)

    response = await reserve(server, connectorType="cType2")

    assert (response.status_code, response.json()["status"]) == (501, "NotSupported")
    assert cp.requests == []
    listed = (await server.api.get("/API/Reservations")).json()["reservations"]
    assert listed[0]["status"] == "Failed"


@pytest.mark.parametrize(
    ("changes", "status_code", "status"),
    [
        ({"expiryDateTime": stamp(START)}, 400, "InvalidExpiry"),
        ({"expiryDateTime": stamp(START + timedelta(days=8))}, 400, "InvalidExpiry"),
        ({"expiryDateTime": "2026-12-01T13:00:00"}, 400, "InvalidParameter"),  # no offset
        ({"idTag": "A" * 21}, 400, "InvalidParameter"),
        ({"idTag": "A" * 20}, 409, "TagNotAccepted"),  # unknown
        ({"idTag": ""}, 400, "InvalidParameter"),
        ({"connectorId": -1}, 400, "InvalidParameter"),
        ({"connectorId": 1001}, 400, "InvalidParameter"),
        ({"connectorType": "Schuko"}, 400, "InvalidParameter"),
        ({"chargePointId": "NOPE"}, 404, "UnknownChargePoint"),
        ({"chargePointId": "C" * 101}, 400, "InvalidParameter"),
        ({"createdBy": "x" * 101}, 400, "InvalidParameter"),
        ({"surprise": 1}, 400, "InvalidParameter"),
    ],
)
async def test_bad_reservations_are_refused_before_anything_is_sent(
    server: RunningServer,
    charger: ConnectCharger,
    clock: Clock,
    changes: dict[str, Any],
    status_code: int,
    status: str,
) -> None:
    cp = await connected(server, charger)

    response = await reserve(server, **changes)

    assert (response.status_code, response.json()["status"]) == (status_code, status)
    assert cp.requests == []


@pytest.mark.parametrize(
    ("body", "status_code", "status"),
    [
        ({"reservationId": 0}, 400, "InvalidParameter"),
        ({"reservationId": 2**31}, 400, "InvalidParameter"),
        ({"reservationId": "x"}, 400, "InvalidParameter"),
        ({}, 400, "InvalidParameter"),
        ({"reservationId": 999}, 404, "NoReservation"),
    ],
)
async def test_bad_cancellations_are_refused(
    server: RunningServer, body: dict[str, Any], status_code: int, status: str
) -> None:
    response = await server.api.post("/API/CancelReservation", json=body)
    assert (response.status_code, response.json()["status"]) == (status_code, status)


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=501", "offset=-1", "active=maybe", f"cp={'C' * 101}"]
)
async def test_bad_list_queries_are_refused(server: RunningServer, query: str) -> None:
    response = await server.api.get(f"/API/Reservations?{query}")
    assert (response.status_code, response.json()["status"]) == (400, "InvalidParameter")


async def test_the_reservation_operations_are_in_the_openapi_document(
    server: RunningServer,
) -> None:
    document = (await server.api.get("/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/API/ReserveNow"]) == {"post"}
    assert set(paths["/API/CancelReservation"]) == {"post"}
    assert set(paths["/API/Reservations"]) == {"get"}
    schemas = document["components"]["schemas"]
    assert {"ReserveBody", "CancelBody", "ReservationAnswer", "ReservationPage"} <= set(schemas)
    assert "expiryDateTime" in schemas["ReserveBody"]["properties"]
