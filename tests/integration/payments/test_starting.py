"""A charger that starts the transaction before it answers the remote start.

Some chargers send StartTransaction first and the RemoteStartTransaction
answer after; the late answer must not move the session back a step. A raw
charger sends the frames in that order by hand.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from ocpp.messages import MessageType
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from builders import NOW, timestamp
from chargers import RawCharger
from integration.payments.payflow import (
    CP,
    DUE,
    HOLD,
    METER_START,
    METER_STOP,
    TARIFF,
    Paid,
    assert_captured,
    checkout_session_id,
    create,
    money_state_is,
    price_station,
    reservation,
    stage_is,
)
from servers import RunningServer
from stripe_harness import StripeSim, eventually


@pytest.fixture
async def raw_charger(server: RunningServer) -> AsyncIterator[RawCharger]:
    await price_station(server, TARIFF)
    async with connect(f"{server.ws_url}/{CP}", subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        yield RawCharger(ws)


async def test_a_remote_start_answered_after_the_transaction_started_keeps_it_charging(
    server: RunningServer, raw_charger: RawCharger, stripe_sim: StripeSim
) -> None:
    plugged = {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"}
    await raw_charger.result("StatusNotification", plugged | {"timestamp": timestamp()})
    created = await create(server)
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
    kind, call_id, action, start = json.loads(await raw_charger.connection.recv())
    assert (kind, action) == (MessageType.Call, "RemoteStartTransaction")

    started = await raw_charger.result(
        "StartTransaction",
        {
            "connectorId": 1,
            "idTag": start["idTag"],
            "meterStart": METER_START,
            "timestamp": timestamp(),
        },
    )
    reservation_id = created["reservationId"]
    await stage_is(server, reservation_id, "charging")
    await raw_charger.connection.send(
        json.dumps([MessageType.CallResult, call_id, {"status": "Accepted"}])
    )

    async def answer_recorded() -> bool:
        return (await reservation(server, reservation_id)).remote_start_result == "Accepted"

    await eventually(answer_recorded)
    assert (await reservation(server, reservation_id)).status == "Charging"
    await raw_charger.result(
        "StopTransaction",
        {
            "transactionId": started["transactionId"],
            "meterStop": METER_STOP,
            "timestamp": timestamp(NOW + timedelta(hours=1)),
            "reason": "EVDisconnected",
        },
    )
    await money_state_is(server, reservation_id, "Captured")
    paid = Paid(reservation_id, checkout_session_id(created["checkoutUrl"]), created)
    await assert_captured(stripe_sim, paid, DUE, HOLD)
