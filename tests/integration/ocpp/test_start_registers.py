"""Where billing starts when the charger's start register is missing or a firmware's 0.

Real chargers (the ``ocpp`` library's clients) over real websockets: a 2.0.1 transaction
whose Started event carries no register, and 1.6 firmware that sends ``meterStart`` 0
but its lifetime register afterwards, bill from the transaction's first register; a new
meter that really starts at 0, and a meter that jumps mid-session, are told apart.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from ocpp.v16 import call
from sqlalchemy import select

from builders import NOW, add_charge_point, add_tag, timestamp
from chargers import TestCharger
from events201 import energy, transaction_event
from ocpp_core.db.models import Connector, MeterAnomaly, Transaction
from servers import ConnectCharger, ConnectCharger201, RunningServer

LIFETIME_WH = 1_234_567  # what the meter has counted since it was built


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


async def stored(server: RunningServer, charge_point_id: str) -> tuple[Transaction, Connector]:
    async with server.runtime.db.session() as session:
        tx = await session.scalar(
            select(Transaction).where(Transaction.charge_point_id == charge_point_id)
        )
        connector = await session.scalar(
            select(Connector).where(Connector.charge_point_id == charge_point_id)
        )
    assert tx is not None
    assert connector is not None
    return tx, connector


async def anomalies(server: RunningServer) -> list[tuple[str, int]]:
    async with server.runtime.db.session() as session:
        rows = (await session.scalars(select(MeterAnomaly).order_by(MeterAnomaly.id))).all()
    return [(row.reason, row.value_wh) for row in rows]


# -- 2.0.1: a Started event without a register ---------------------------------------------


@pytest.fixture
async def cp201(server: RunningServer, charger201: ConnectCharger201) -> Any:
    await add_charge_point(server.runtime.db, "CP2")
    await add_tag(server.runtime.db, "TAG1")
    cp = await charger201("CP2")
    started = await transaction_event(
        cp, "Started", "tx-1", 0, NOW, trigger="Authorized", evse=1, tag="TAG1"
    )
    assert started.id_token_info == {"status": "Accepted"}
    return cp


async def updated(
    cp: Any, seq_no: int, wh: int, at: float, context: str = "Sample.Periodic"
) -> None:
    reading = energy(wh, NOW + minutes(at), context)
    await transaction_event(
        cp,
        "Updated",
        "tx-1",
        seq_no,
        NOW + minutes(at),
        trigger="MeterValuePeriodic",
        meter=[reading],
    )


async def ended(cp: Any, seq_no: int, wh: int | None, at: float) -> None:
    meter = None if wh is None else [energy(wh, NOW + minutes(at), "Transaction.End")]
    await transaction_event(
        cp,
        "Ended",
        "tx-1",
        seq_no,
        NOW + minutes(at),
        trigger="EVCommunicationLost",
        meter=meter,
        stopped_reason="EVDisconnected",
    )


async def test_the_begin_register_of_the_first_updated_event_starts_the_bill(
    server: RunningServer, cp201: Any
) -> None:
    await updated(cp201, 1, 200_000, 0, "Transaction.Begin")
    await updated(cp201, 2, 205_000, 30)
    tx, evse = await stored(server, "CP2")
    assert (tx.meter_start_wh, tx.last_meter_wh) == (200_000, 205_000)
    assert evse.meter_wh == 205_000  # the live meter follows
    await ended(cp201, 3, 210_000, 60)
    tx, evse = await stored(server, "CP2")
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh, tx.review_reason) == (
        200_000,
        210_000,
        10_000,
        None,
    )
    assert evse.meter_wh == 210_000
    assert await anomalies(server) == []
    answer = await server.api.get(f"/API/Transactions/{tx.id}")
    assert (answer.json()["meterStartWh"], answer.json()["energyWh"]) == (200_000, 10_000)


async def test_without_a_begin_register_the_first_register_starts_the_bill(
    server: RunningServer, cp201: Any
) -> None:
    await updated(cp201, 1, 200_000, 5)
    await updated(cp201, 2, 205_000, 30)
    await ended(cp201, 3, None, 60)  # no register in the end event: the newest one seen
    tx, _ = await stored(server, "CP2")
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh, tx.review_reason) == (
        200_000,
        205_000,
        5_000,
        None,
    )
    assert await anomalies(server) == []


async def test_a_jump_after_the_first_register_is_still_a_jump(
    server: RunningServer, cp201: Any
) -> None:
    await updated(cp201, 1, 200_000, 5)
    await updated(cp201, 2, 300_000, 6)  # 100 kWh in a minute
    await ended(cp201, 3, 300_500, 7)
    tx, _ = await stored(server, "CP2")
    assert await anomalies(server) == [("jump", 300_000), ("jump", 300_500)]
    assert (tx.meter_start_wh, tx.energy_wh, tx.review_reason) == (
        200_000,
        None,
        "stop register jump",
    )


async def test_a_transaction_that_never_sent_a_register_goes_to_review(
    server: RunningServer, cp201: Any
) -> None:
    # The end register alone cannot say where the transaction began.
    await ended(cp201, 1, 210_000, 60)
    tx, _ = await stored(server, "CP2")
    assert (tx.meter_stop_wh, tx.energy_wh, tx.review_reason) == (
        210_000,
        None,
        "no start register",
    )
    answer = await server.api.get(f"/API/Transactions/{tx.id}")
    assert answer.json()["meterStartWh"] is None


# -- 1.6: meterStart 0, lifetime registers afterwards ---------------------------------------


def sample(wh: int, at: float, context: str = "Sample.Periodic") -> dict[str, Any]:
    return {
        "timestamp": timestamp(NOW + minutes(at)),
        "sampledValue": [
            {
                "value": str(wh),
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            }
        ],
    }


@pytest.fixture
async def cp16(server: RunningServer, charger: ConnectCharger) -> TestCharger:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "TAG1")
    return await charger("CP1")


async def start16(cp: TestCharger, meter_start: int = 0) -> int:
    started = await cp.call(call.StartTransaction(1, "TAG1", meter_start, timestamp()))
    assert started.id_tag_info["status"] == "Accepted"
    transaction_id: int = started.transaction_id
    return transaction_id


async def meter16(cp: TestCharger, transaction_id: int, *samples: dict[str, Any]) -> None:
    for one in samples:
        await cp.call(call.MeterValues(1, [one], transaction_id=transaction_id))


async def stop16(
    cp: TestCharger, transaction_id: int, meter_stop: int, at: float, data: list[Any] | None = None
) -> None:
    await cp.call(
        call.StopTransaction(
            meter_stop=meter_stop,
            timestamp=timestamp(NOW + minutes(at)),
            transaction_id=transaction_id,
            reason="EVDisconnected",
            transaction_data=data,
        )
    )


@pytest.mark.parametrize(
    "first",
    [sample(LIFETIME_WH, 0, "Transaction.Begin"), sample(LIFETIME_WH, 1)],
    ids=["begin-sample", "first-periodic-sample"],
)
async def test_a_lifetime_register_after_meter_start_0_starts_the_bill(
    server: RunningServer, cp16: TestCharger, first: dict[str, Any]
) -> None:
    tx_id = await start16(cp16)
    await meter16(cp16, tx_id, first, sample(LIFETIME_WH + 4_000, 30))
    tx, connector = await stored(server, "CP1")
    assert (tx.meter_start_wh, tx.last_meter_wh) == (LIFETIME_WH, LIFETIME_WH + 4_000)
    assert connector.meter_wh == LIFETIME_WH + 4_000  # the live meter follows
    await stop16(cp16, tx_id, LIFETIME_WH + 9_000, 60)
    tx, _ = await stored(server, "CP1")
    assert (tx.energy_wh, tx.review_reason) == (9_000, None)
    assert await anomalies(server) == []


async def test_a_lifetime_stop_register_with_its_transaction_data_is_billed(
    server: RunningServer, cp16: TestCharger
) -> None:
    tx_id = await start16(cp16)
    data = [
        sample(LIFETIME_WH, 0, "Transaction.Begin"),
        sample(LIFETIME_WH + 9_000, 60, "Transaction.End"),
    ]
    await stop16(cp16, tx_id, LIFETIME_WH + 9_000, 60, data)
    tx, _ = await stored(server, "CP1")
    assert (tx.meter_start_wh, tx.energy_wh, tx.review_reason) == (LIFETIME_WH, 9_000, None)


@pytest.mark.parametrize(
    "data",
    [None, [sample(LIFETIME_WH + 9_000, 60, "Transaction.End")]],
    ids=["no-samples", "end-sample-only"],
)
async def test_a_lifetime_stop_register_and_nothing_to_start_from_goes_to_review(
    server: RunningServer, cp16: TestCharger, data: list[Any] | None
) -> None:
    tx_id = await start16(cp16)
    await stop16(cp16, tx_id, LIFETIME_WH + 9_000, 60, data)
    tx, _ = await stored(server, "CP1")
    assert (tx.meter_start_wh, tx.energy_wh, tx.review_reason) == (0, None, "stop register jump")


async def test_a_new_meter_that_starts_at_0_bills_from_0(
    server: RunningServer, cp16: TestCharger
) -> None:
    tx_id = await start16(cp16)
    await meter16(cp16, tx_id, sample(500, 5), sample(1_500, 10))
    await stop16(cp16, tx_id, 2_000, 15)
    tx, connector = await stored(server, "CP1")
    assert (tx.meter_start_wh, tx.energy_wh, tx.review_reason) == (0, 2_000, None)
    assert connector.meter_wh == 1_500
    assert await anomalies(server) == []


async def test_a_new_meter_stopped_without_samples_bills_from_0(
    server: RunningServer, cp16: TestCharger
) -> None:
    tx_id = await start16(cp16)
    await stop16(cp16, tx_id, 2_000, 15)
    tx, _ = await stored(server, "CP1")
    assert (tx.energy_wh, tx.review_reason) == (2_000, None)


async def test_a_jump_in_the_middle_of_a_session_still_goes_to_review(
    server: RunningServer, cp16: TestCharger
) -> None:
    tx_id = await start16(cp16)
    await meter16(
        cp16,
        tx_id,
        sample(LIFETIME_WH, 0, "Transaction.Begin"),
        sample(LIFETIME_WH + 2_000, 10),
        sample(LIFETIME_WH + 102_000, 11),  # 100 kWh in a minute
    )
    tx, connector = await stored(server, "CP1")
    assert await anomalies(server) == [("jump", LIFETIME_WH + 102_000)]
    assert (tx.last_meter_wh, connector.meter_wh) == (LIFETIME_WH + 2_000, LIFETIME_WH + 2_000)
    await stop16(cp16, tx_id, LIFETIME_WH + 103_000, 12)
    tx, _ = await stored(server, "CP1")
    assert (tx.energy_wh, tx.review_reason) == (None, "stop register jump")


async def test_a_jump_that_time_later_makes_plausible_still_goes_to_review(
    server: RunningServer, cp16: TestCharger
) -> None:
    """100 kWh in a minute, then an hour at 7 kW: the stop register alone looks fine."""
    tx_id = await start16(cp16, meter_start=10_000)
    await meter16(cp16, tx_id, sample(12_000, 10), sample(112_000, 11), sample(119_000, 71))
    assert await anomalies(server) == [("jump", 112_000)]
    await stop16(cp16, tx_id, 120_000, 80)
    tx, _ = await stored(server, "CP1")
    assert (tx.energy_wh, tx.review_reason) == (None, "stop register includes a jump to 112000 Wh")


async def test_a_reported_start_register_is_never_replaced(
    server: RunningServer, cp16: TestCharger
) -> None:
    tx_id = await start16(cp16, meter_start=1_000)
    await meter16(cp16, tx_id, sample(LIFETIME_WH, 1))
    await stop16(cp16, tx_id, LIFETIME_WH + 1_000, 60)
    tx, _ = await stored(server, "CP1")
    assert await anomalies(server) == [("jump", LIFETIME_WH)]
    assert (tx.meter_start_wh, tx.energy_wh, tx.review_reason) == (
        1_000,
        None,
        "stop register jump",
    )
