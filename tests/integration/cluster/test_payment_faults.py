"""Paid sessions on three ``ocpp-core server`` nodes behind HAProxy, with the Stripe simulator.

The simulator's webhooks go to node c; drivers come in through any node; the
charger sits on node a. Two drivers racing for one connector through b and c
leave one reservation; the webhook on c and the driver's Confirm on b, both
slowed down at Stripe so they overlap, start the charger on a once (and, on a
charger that takes reservations, reserve its connector once). Node a
killed with SIGKILL while chargers send MeterValues through HAProxy and three
paid sessions run on its chargers (one charging; one plugged in, whose
payment's webhook is under way on c as a dies; one stopped, whose capture is
at Stripe): its chargers come back through HAProxy, each session starts once
and is captured once, for the right amount, under one idempotency key; no
hold is released. Money is read from the simulator (its intents and the calls
it received), never from our own bookkeeping.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.v16 import call

from balanced_cluster import (
    SCENARIO_TIMEOUT,
    RoamingCharger,
    all_answered_stored,
    cluster,
    until_all_answered_since,
)
from builders import timestamp
from chargers import TestCharger
from cli_harness import provision
from cluster_harness import api, charger16
from haproxy_harness import Balancer
from integration.payments.payflow import (
    DUE,
    HOLD,
    METER_START,
    TARIFF,
    Paid,
    assert_captured,
    calls,
    checkout_session_id,
    connector_status,
    create,
    delivery_over,
    intent,
    next_call,
    pending_faults,
    settled,
    stage_is,
    start_charging,
    stop_charging,
)
from ocpp_core.db.session import Database
from ocpp_core.domain import tariffs
from servers import ServerProcess, free_port
from stripe_harness import STRIPE_KEY, WEBHOOK_SECRET, StripeSim, eventually, running_stripe_sim

pytestmark = [pytest.mark.postgresql, pytest.mark.long]

RACED = "FP-RACED"
HELD = "FP-HELD"  # takes reservations
CHARGING, PAYING, STOPPED = "FP-CHARGING", "FP-PAYING", "FP-STOPPED"
LOAD = [f"FL-{n:02}" for n in range(12)]  # even: 1.6, odd: 2.0.1
STRIPE_TIMEOUT = 2  # seconds per Stripe call: a dead node's claim on a capture lasts 3 x 2 + 10 s
SLOW_STRIPE = 1.5  # seconds a delayed Stripe call waits: a is killed meanwhile
SETTLED_WITHIN = 60.0  # past a dead node's claim and a few sweeps


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> str:
    """The chargers, the paid ones priced with the payments tests' tariff."""
    provision(database_url, tmp_path, [RACED, HELD, CHARGING, PAYING, STOPPED, *LOAD], [])
    return database_url


async def price(database_url: str, *charge_point_ids: str) -> None:
    db = Database(database_url)
    try:
        async with db.session() as session:
            for charge_point_id in charge_point_ids:
                await tariffs.set_tariff(session, charge_point_id, TARIFF)
    finally:
        await db.close()


def stripe_env(stripe_url: str) -> dict[str, str]:
    """Stripe through the simulator; sweeps and retries quick enough to watch."""
    return {
        "OCPP_CORE_STRIPE__ENABLED": "true",
        "OCPP_CORE_STRIPE__API_KEY": STRIPE_KEY,
        "OCPP_CORE_STRIPE__WEBHOOK_SECRET": WEBHOOK_SECRET,
        "OCPP_CORE_STRIPE__RETURN_BASE_URL": "http://127.0.0.1:9",
        "OCPP_CORE_STRIPE__API_BASE": stripe_url,
        "OCPP_CORE_STRIPE__TIMEOUT": str(STRIPE_TIMEOUT),
        "OCPP_CORE_PAYMENTS__MIN_SESSION_ENERGY_WH": "500",
        "OCPP_CORE_PAYMENTS__SWEEP_INTERVAL_SECONDS": "0.5",
        "OCPP_CORE_PAYMENTS__RETRY_BASE_SECONDS": "0.2",
    }


@dataclass(frozen=True)
class Door:
    """The API of one node, or of the balancer, as the payment helpers reach it."""

    api: httpx.AsyncClient


@asynccontextmanager
async def paying_cluster(
    database_url: str, folder: Path, prefix: str
) -> AsyncIterator[tuple[dict[str, ServerProcess], Balancer, StripeSim]]:
    """The three nodes behind HAProxy, Stripe's webhooks going to node c."""
    webhooks_at = free_port()  # node c's, known to the simulator before c starts
    webhook_url = f"http://127.0.0.1:{webhooks_at}/API/Payments/Webhook"
    async with (
        running_stripe_sim(webhook_url) as stripe_sim,
        cluster(
            database_url, folder, prefix, env=stripe_env(stripe_sim.url), ports={"c": webhooks_at}
        ) as (nodes, balancer),
    ):
        yield nodes, balancer, stripe_sim


async def money_calls(stripe_sim: StripeSim, paid: Paid, action: str) -> list[str | None]:
    """The idempotency keys of the ``capture`` or ``cancel`` calls Stripe got for this hold."""
    held = await intent(stripe_sim, paid.checkout_url)
    found = await stripe_sim.calls(f"/v1/payment_intents/{held.id}/{action}")
    return [call["idempotency_key"] for call in found if call["method"] == "POST"]


async def captured_once(stripe_sim: StripeSim, paid: Paid) -> None:
    """The right amount taken, every capture call under one key, nothing released."""
    await assert_captured(stripe_sim, paid, DUE, HOLD)
    keys = await money_calls(stripe_sim, paid, "capture")
    assert keys, "never captured"
    assert len(set(keys)) == 1, keys
    assert None not in keys
    assert await money_calls(stripe_sim, paid, "cancel") == []


async def until_at_stripe(stripe_sim: StripeSim) -> None:
    """Until every delayed call has reached the simulator (and waits there)."""

    async def taken() -> bool:
        return await pending_faults(stripe_sim) == []

    await eventually(taken)


def paid_for(created: dict[str, Any]) -> Paid:
    return Paid(created["reservationId"], checkout_session_id(created["checkoutUrl"]), created)


async def test_racing_drivers_and_a_split_confirm_on_three_nodes_start_the_charger_once(
    fleet: str, tmp_path: Path, prefix: str
) -> None:
    await price(fleet, RACED)
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        paying_cluster(fleet, tmp_path, prefix) as (nodes, _, stripe_sim),
        api(nodes["b"]) as on_b,
        api(nodes["c"]) as on_c,
        charger16(nodes["a"].ws_url(RACED)) as cp,
    ):
        await connector_status(cp, "Preparing")  # plugged in: whoever authorizes starts it

        bodies = [
            {"chargePointId": RACED, "connectorId": 1, "chargeTagId": f"DRIVER-{n}"}
            for n in range(4)
        ]
        answers = await asyncio.gather(
            *(
                door.post("/API/Payments/Create", json=body)
                for door, body in zip([on_b, on_c] * 2, bodies, strict=True)
            )
        )
        assert sorted(answer.status_code for answer in answers) == [200, 409, 409, 409]
        refused = [answer.json() for answer in answers if answer.status_code == 409]
        assert {answer["status"] for answer in refused} == {"ConnectorBusy"}
        winner = next(answer.json() for answer in answers if answer.status_code == 200)
        assert winner["status"] == "Redirect"
        # Only the winner was sent to Stripe: no other checkout exists to be paid.
        opened = [
            c for c in await stripe_sim.calls("/v1/checkout/sessions") if c["method"] == "POST"
        ]
        assert len(opened) == 1, opened

        # Both nodes ask Stripe about the paid checkout at once (slowly): the webhook on c
        # and the driver's return on b.
        await stripe_sim.fault("GET", "/v1/checkout/sessions/", "delay", count=2, seconds=1)
        paid = paid_for(winner)
        assert (await stripe_sim.pay(paid.checkout_url)).status_code == 303
        confirmed = await on_b.post(
            "/API/Payments/Confirm",
            json={"reservationId": paid.reservation_id, "checkoutSessionId": paid.session_id},
        )
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["reason"] in {"Accepted", "AlreadyRequested"}
        await until_at_stripe(stripe_sim)  # both nodes asked
        await delivery_over(stripe_sim, "checkout.session.completed")

        transaction_id, id_tag = await start_charging(Door(on_c), cp, paid.reservation_id)
        assert len(calls(cp, "RemoteStartTransaction")) == 1
        assert (await intent(stripe_sim, paid.checkout_url)).amount_capturable == HOLD

        await stop_charging(cp, transaction_id, id_tag)
        await settled(Door(on_b), paid.reservation_id, "Captured")
        await captured_once(stripe_sim, paid)
        assert len(calls(cp, "RemoteStartTransaction")) == 1


async def test_a_split_confirm_reserves_a_held_connector_once_and_starts_it_once(
    fleet: str, tmp_path: Path, prefix: str
) -> None:
    """The connector is free (no plug yet) on a charger that takes reservations: whichever
    node authorizes reserves it, and the start goes at once, each once in the cluster."""
    await price(fleet, HELD)
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        paying_cluster(fleet, tmp_path, prefix) as (nodes, _, stripe_sim),
        api(nodes["b"]) as on_b,
        charger16(nodes["a"].ws_url(HELD)) as cp,
    ):
        profiles = {"key": "SupportedFeatureProfiles", "readonly": True, "value": "Reservation"}
        cp.answers["GetConfiguration"] = {"configuration_key": [profiles]}
        await connector_status(cp, "Available")
        paid = paid_for(await create(Door(on_b), cp_id=HELD))

        await stripe_sim.fault("GET", "/v1/checkout/sessions/", "delay", count=2, seconds=1)
        assert (await stripe_sim.pay(paid.checkout_url)).status_code == 303
        confirmed = await on_b.post(
            "/API/Payments/Confirm",
            json={"reservationId": paid.reservation_id, "checkoutSessionId": paid.session_id},
        )
        assert confirmed.status_code == 200, confirmed.text
        await until_at_stripe(stripe_sim)
        await delivery_over(stripe_sim, "checkout.session.completed")

        reserve = await next_call(cp, "ReserveNow")
        await connector_status(cp, "Reserved")  # and it stays so when the car plugs in
        start = await next_call(cp, "RemoteStartTransaction")
        started = await cp.call(
            call.StartTransaction(
                1, start["id_tag"], METER_START, timestamp(), reserve["reservation_id"]
            )
        )
        assert started.id_tag_info["status"] == "Accepted"
        await stage_is(Door(on_b), paid.reservation_id, "charging")
        await stop_charging(cp, started.transaction_id, start["id_tag"])
        await settled(Door(on_b), paid.reservation_id, "Captured")
        await captured_once(stripe_sim, paid)
        assert len(calls(cp, "ReserveNow")) == 1
        assert len(calls(cp, "RemoteStartTransaction")) == 1
        assert calls(cp, "CancelReservation") == []


async def test_a_node_killed_under_load_mid_payment_loses_no_session_and_no_money(
    fleet: str, tmp_path: Path, prefix: str
) -> None:
    await price(fleet, CHARGING, PAYING, STOPPED)
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        paying_cluster(fleet, tmp_path, prefix) as (nodes, balancer, stripe_sim),
        api(balancer) as client,
        AsyncExitStack() as stack,
        asyncio.TaskGroup() as group,
    ):
        door = Door(client)
        progress = asyncio.Condition()
        roaming = [RoamingCharger(cp, balancer.ws_url(cp), progress) for cp in LOAD]
        load = [group.create_task(charger.run()) for charger in roaming]
        await until_all_answered_since(roaming, [0] * len(roaming), progress)

        # Three paid sessions on chargers that node a holds.
        on_a = {
            cp: await stack.enter_async_context(charger16(nodes["a"].ws_url(cp)))
            for cp in (CHARGING, PAYING, STOPPED)
        }
        paid: dict[str, Paid] = {}
        for cp in (CHARGING, STOPPED):
            paid[cp] = await pay_for(door, stripe_sim, cp)
        charging = await start_charging(door, on_a[CHARGING], paid[CHARGING].reservation_id)
        stopped = await start_charging(door, on_a[STOPPED], paid[STOPPED].reservation_id)
        paid[PAYING] = paid_for(await create(door, cp_id=PAYING))
        await connector_status(on_a[PAYING], "Preparing")

        # Stripe answers slowly: the stopped session's capture (a's) and the look at the
        # plugged-in driver's paid checkout (the webhook's, on c). a dies with both under way.
        held = await intent(stripe_sim, paid[STOPPED].checkout_url)
        capture = f"/v1/payment_intents/{held.id}/capture"
        await stripe_sim.fault("POST", capture, "delay", seconds=SLOW_STRIPE)
        lookup = f"/v1/checkout/sessions/{paid[PAYING].session_id}"
        await stripe_sim.fault("GET", lookup, "delay", seconds=SLOW_STRIPE)
        assert (await stripe_sim.pay(paid[PAYING].checkout_url)).status_code == 303
        await stop_charging(on_a[STOPPED], *stopped)
        await until_at_stripe(stripe_sim)
        nodes["a"].process.send_signal(signal.SIGKILL)
        assert await nodes["a"].process.wait() == -signal.SIGKILL
        counts = [len(charger.answered_readings) for charger in roaming]

        await balancer.until({"a": "DOWN", "b": "UP", "c": "UP"})
        back: dict[str, TestCharger] = {}
        for cp, old in on_a.items():
            await old.connection.websocket.wait_closed()
            back[cp] = await stack.enter_async_context(charger16(balancer.ws_url(cp)))
        await connector_status(back[CHARGING], "Charging")
        await connector_status(back[STOPPED], "Available")

        # The session authorized while a was dead starts, once, on the charger's new node.
        started = await start_charging(door, back[PAYING], paid[PAYING].reservation_id)
        starts = calls(on_a[PAYING], "RemoteStartTransaction") + calls(
            back[PAYING], "RemoteStartTransaction"
        )
        assert len(starts) == 1, starts

        # Commands reach the chargers again: the operator stops the running session.
        answer = await client.get(f"/API/StopTransaction/{CHARGING}/1")
        assert (answer.status_code, answer.json()["status"]) == (200, "Accepted"), answer.text
        assert calls(back[CHARGING], "RemoteStopTransaction") == [{"transaction_id": charging[0]}]
        await stop_charging(back[CHARGING], *charging)
        await stop_charging(back[PAYING], *started)
        for cp, reconnected in back.items():
            answer = await client.get(f"/API/ClearCache/{cp}")
            assert answer.json() == {"status": "Accepted"}
            assert calls(reconnected, "ClearCache") == [{}]

        for cp in (CHARGING, PAYING, STOPPED):
            await settled(door, paid[cp].reservation_id, "Captured", timeout=SETTLED_WITHIN)
            await captured_once(stripe_sim, paid[cp])
        # a's capture call, and the one of the node that took a's claim over once it ran out.
        assert len(await money_calls(stripe_sim, paid[STOPPED], "capture")) >= 2
        for cp in (CHARGING, STOPPED):
            assert calls(on_a[cp], "RemoteStartTransaction") != []
            assert calls(back[cp], "RemoteStartTransaction") == []

        await until_all_answered_since(roaming, counts, progress)
        for task in load:
            task.cancel()

    await all_answered_stored(fleet, roaming)


async def pay_for(door: Door, stripe_sim: StripeSim, cp: str) -> Paid:
    """A driver's reservation on ``cp``, paid and authorized (awaiting the plug)."""
    created = await create(door, cp_id=cp)
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
    await stage_is(door, created["reservationId"], "awaitingPlug")
    return paid_for(created)
