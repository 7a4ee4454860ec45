"""What ``/API/Payments/Create`` refuses before it holds a connector or opens a Checkout."""

from __future__ import annotations

from sqlalchemy import func, select

from integration.payments.payflow import (
    CP,
    TARIFF,
    connector_status,
    create_answer,
    events,
    price_station,
    priced_charger,
    status,
)
from ocpp_core.db.models import PaymentReservation
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim


async def reservation_count(server: RunningServer) -> int:
    async with server.runtime.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(PaymentReservation)) or 0)


async def test_a_connector_the_charger_does_not_have_is_refused_and_nothing_is_held(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger)  # it reported connector 1
    await connector_status(cp, "Available", connector_id=2)

    answers = [await create_answer(server, connector=n) for n in (3, 1000)]

    assert [(a.status_code, a.json()) for a in answers] == [
        (404, {"status": "UnknownConnector"})
    ] * 2
    assert await reservation_count(server) == 0
    assert await events(stripe_sim) == []  # no Checkout Session was opened
    assert (await create_answer(server, connector=2)).json()["status"] == "Redirect"


async def test_a_charger_that_reported_no_connector_has_only_the_first(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await price_station(server, TARIFF)
    await charger(CP)  # online, but no StatusNotification yet

    refused = await create_answer(server, connector=2)

    assert (refused.status_code, refused.json()) == (404, {"status": "UnknownConnector"})
    assert await reservation_count(server) == 0
    created = (await create_answer(server, connector=1)).json()
    assert created["status"] == "Redirect"
    # Nothing reported about the connector yet: the driver's page shows no live values.
    view = await status(server, created["reservationId"])
    assert (view["connectorId"], view["live"]) == (1, None)
