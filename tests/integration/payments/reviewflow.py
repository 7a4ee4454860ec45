"""A paid session whose meter jumped, ending under review: shared by the review tests.

The charger's readings: 1 000 Wh at the start, a plausible 6 000 Wh after half an
hour, then 900 000 Wh ten minutes later (no charger delivers that), and the stop
register 900 500 Wh an hour after the start. The tariff is payflow's: 0.40 EUR/kWh
up to 20 kWh and 1.00 EUR per session, a hold of 9.00 EUR.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from ocpp.v16 import call

from builders import NOW, timestamp
from chargers import TestCharger
from integration.payments.payflow import (
    ENERGY_REGISTER,
    METER_START,
    Paid,
    create_and_pay,
    priced_charger,
    settled,
    start_charging,
    stop_charging,
)
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim

PLAUSIBLE_WH, JUMPED_WH, STOP_WH = 6_000, 900_000, 900_500
# Up to the last plausible reading: 5 kWh x 0.40 + 1.00.
LAST_PLAUSIBLE_CENTS = 300


@dataclass
class UnderReview:
    paid: Paid
    cp: TestCharger
    transaction_id: int

    @property
    def reservation_id(self) -> str:
        return self.paid.reservation_id


async def meter(cp: TestCharger, transaction_id: int, after: timedelta, wh: int) -> None:
    sample = {"value": str(wh), "measurand": ENERGY_REGISTER, "unit": "Wh"}
    await cp.call(
        call.MeterValues(
            connector_id=1,
            transaction_id=transaction_id,
            meter_value=[{"timestamp": timestamp(NOW + after), "sampledValue": [sample]}],
        )
    )


@dataclass
class Charging:
    paid: Paid
    cp: TestCharger
    transaction_id: int
    id_tag: str


async def paid_and_charging(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> Charging:
    cp = await priced_charger(server, charger)
    paid = await create_and_pay(server, stripe_sim)
    transaction_id, id_tag = await start_charging(server, cp, paid.reservation_id)
    return Charging(paid, cp, transaction_id, id_tag)


async def meter_jumps_and_stops(server: RunningServer, session: Charging) -> UnderReview:
    """The impossible readings, then the stop: the receipt says ReviewRequired."""
    assert METER_START < PLAUSIBLE_WH
    await meter(session.cp, session.transaction_id, timedelta(minutes=30), PLAUSIBLE_WH)
    await meter(session.cp, session.transaction_id, timedelta(minutes=40), JUMPED_WH)
    await stop_charging(session.cp, session.transaction_id, session.id_tag, meter_stop=STOP_WH)
    await settled(server, session.paid.reservation_id, "ReviewRequired")
    return UnderReview(session.paid, session.cp, session.transaction_id)


async def session_with_a_meter_jump(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> UnderReview:
    charging = await paid_and_charging(server, charger, stripe_sim)
    return await meter_jumps_and_stops(server, charging)


async def decide(
    server: RunningServer,
    reservation_id: str,
    action: str,
    amount_cents: int | None = None,
    by: str = "alice",
) -> httpx.Response:
    body: dict[str, Any] = {"reservationId": reservation_id, "action": action, "decidedBy": by}
    if amount_cents is not None:
        body["amountCents"] = amount_cents
    return await server.api.post("/API/Payments/Review", json=body)
