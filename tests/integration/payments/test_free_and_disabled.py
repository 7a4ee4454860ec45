"""Free charging (station flag, tag privilege) with Stripe enabled and disabled, and what
a paid station does without Stripe.

Every test runs twice: with the server wired to the Stripe simulator, and with
Stripe disabled (the simulator still runs, so the tests can show that nothing
ever reached it).
"""

from __future__ import annotations

from typing import Any

import pytest
from ocpp.v16 import call
from sqlalchemy import func, select

from builders import NOW, add_charge_point, add_tag, timestamp
from chargers import TestCharger
from integration.payments.payflow import (
    METER_STOP,
    WEBHOOK_PATHS,
    calls,
    connector_status,
    create_answer,
    event_payload,
    events,
    next_call,
    post,
    post_webhook,
    priced_charger,
    reservation,
    signature,
    stage_is,
    status,
    stop_charging,
)
from ocpp_core.config import Settings, StripeSettings
from ocpp_core.db.models import PaymentReservation
from ocpp_core.domain import tariffs
from ocpp_core.domain.pricing import Tariff
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim

FREE = Tariff(free=True, max_energy_wh=20_000)
FLEET_TAG = "FLEET-0001"


@pytest.fixture(params=[True, False], ids=["stripe", "stripe-disabled"])
def stripe_enabled(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def settings(settings: Settings, stripe_enabled: bool) -> Settings:
    if stripe_enabled:
        return settings
    return settings.model_copy(update={"stripe": StripeSettings()})


async def free_session(
    server: RunningServer, cp: TestCharger, created: dict[str, Any], id_tag: str
) -> dict[str, Any]:
    """Charge 12.5 kWh on a started free reservation; its final status view."""
    reservation_id = created["reservationId"]
    started = await cp.call(call.StartTransaction(1, id_tag, 1_000, timestamp()))
    assert started.id_tag_info["status"] == "Accepted"
    await stage_is(server, reservation_id, "charging")
    await stop_charging(cp, started.transaction_id, id_tag, METER_STOP)
    await stage_is(server, reservation_id, "done")
    await server.app.state.payments.drain()
    return await status(server, reservation_id)


def assert_free_receipt(view: dict[str, Any]) -> None:
    assert (view["free"], view["energyWh"], view["costSoFarCents"]) == (True, 12_500, None)
    assert (view["maxAmountCents"], view["authorizedCents"]) == (0, None)
    receipt = view["receipt"]
    assert (receipt["amountDueCents"], receipt["capturedCents"], receipt["moneyState"]) == (
        0,
        None,
        None,
    )


async def reservations_count(server: RunningServer, *, with_checkout: bool = False) -> int:
    query = select(func.count()).select_from(PaymentReservation)
    if with_checkout:
        query = query.where(PaymentReservation.checkout_session_id.is_not(None))
    async with server.runtime.db.session() as session:
        return int(await session.scalar(query) or 0)


async def assert_stripe_untouched(server: RunningServer, stripe_sim: StripeSim) -> None:
    assert await events(stripe_sim) == []
    assert await reservations_count(server, with_checkout=True) == 0


async def test_a_free_station_starts_at_once_without_a_checkout(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger, FREE)
    await connector_status(cp, "Preparing")
    response = await create_answer(server)
    assert response.status_code == 200, response.text
    created = response.json()
    assert (created["status"], created["reason"]) == ("Accepted", "Accepted")
    assert "checkoutUrl" not in created

    start = await next_call(cp, "RemoteStartTransaction")
    assert (start["connector_id"], len(start["id_tag"]) <= 20) == (1, True)
    assert_free_receipt(await free_session(server, cp, created, start["id_tag"]))
    await assert_stripe_untouched(server, stripe_sim)


async def test_a_free_station_waits_for_the_plug_then_starts(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger, FREE)
    response = await create_answer(server)
    created = response.json()
    assert (response.status_code, created["status"], created["reason"]) == (
        200,
        "Accepted",
        "AwaitingPlug",
    )
    await stage_is(server, created["reservationId"], "awaitingPlug")
    assert calls(cp, "RemoteStartTransaction") == []

    await connector_status(cp, "Preparing")
    start = await next_call(cp, "RemoteStartTransaction")
    assert_free_receipt(await free_session(server, cp, created, start["id_tag"]))
    await assert_stripe_untouched(server, stripe_sim)


@pytest.mark.parametrize("station", ["CP1", None], ids=["this-station", "all-stations"])
async def test_a_privileged_tag_charges_for_free_at_a_paid_station(
    server: RunningServer,
    charger: ConnectCharger,
    stripe_sim: StripeSim,
    station: str | None,
) -> None:
    cp = await priced_charger(server, charger)  # 0.40 EUR/kWh + 1.00 EUR
    await add_tag(server.runtime.db, FLEET_TAG)
    async with server.runtime.db.session() as session:
        await tariffs.grant_free_charging(
            session, tag_id=FLEET_TAG, charge_point_id=station, note="fleet", now=NOW
        )
    await connector_status(cp, "Preparing")
    response = await create_answer(server, FLEET_TAG)
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["status"] == "Accepted"

    start = await next_call(cp, "RemoteStartTransaction")
    assert start["id_tag"] == FLEET_TAG  # the driver's own card: reports show who charged
    view = await free_session(server, cp, created, FLEET_TAG)
    assert_free_receipt(view)
    assert view["prices"]["perKwhMillicents"] == 40_000  # the station's price, waived
    await assert_stripe_untouched(server, stripe_sim)


async def test_a_privilege_for_another_station_does_not_make_this_one_free(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, stripe_enabled: bool
) -> None:
    await priced_charger(server, charger)
    await add_charge_point(server.runtime.db, "CP2")
    await add_tag(server.runtime.db, FLEET_TAG)
    async with server.runtime.db.session() as session:
        await tariffs.grant_free_charging(
            session, tag_id=FLEET_TAG, charge_point_id="CP2", note=None, now=NOW
        )
    response = await create_answer(server, FLEET_TAG)
    if stripe_enabled:
        assert (response.status_code, response.json()["status"]) == (200, "Redirect")
    else:
        assert (response.status_code, response.json()) == (503, {"status": "PaymentsDisabled"})


async def test_a_paid_station_needs_stripe(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, stripe_enabled: bool
) -> None:
    cp = await priced_charger(server, charger)
    await connector_status(cp, "Preparing")
    response = await create_answer(server)
    if stripe_enabled:
        assert (response.status_code, response.json()["status"]) == (200, "Redirect")
        return
    assert (response.status_code, response.json()) == (503, {"status": "PaymentsDisabled"})
    assert calls(cp, "RemoteStartTransaction") == []
    await assert_stripe_untouched(server, stripe_sim)
    assert await reservations_count(server) == 0  # nothing holds the connector


async def test_an_unpriced_station_is_not_free_and_opens_no_checkout(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim, stripe_enabled: bool
) -> None:
    """A station nobody priced (all zero, not flagged free) is unconfigured, not free."""
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await connector_status(cp, "Preparing")
    response = await create_answer(server)
    expected = (409, "PricingNotConfigured") if stripe_enabled else (503, "PaymentsDisabled")
    assert (response.status_code, response.json()["status"]) == expected
    assert calls(cp, "RemoteStartTransaction") == []
    await assert_stripe_untouched(server, stripe_sim)


@pytest.mark.parametrize("stripe_enabled", [False], ids=["stripe-disabled"])
async def test_without_stripe_confirm_and_the_webhook_refuse_and_a_free_session_still_works(
    server: RunningServer, charger: ConnectCharger, stripe_enabled: bool
) -> None:
    cp = await priced_charger(server, charger, FREE)
    created = (await create_answer(server)).json()
    reservation_id = created["reservationId"]

    confirm = await post(
        server, "Confirm", {"reservationId": reservation_id, "checkoutSessionId": "cs_x"}
    )
    assert (confirm.status_code, confirm.json()) == (400, {"status": "Disabled"})
    payload = event_payload("checkout.session.completed", {"id": "cs_x"})
    for path in WEBHOOK_PATHS:
        answer = await post_webhook(server, payload, signature(payload), path)
        assert (answer.status_code, answer.json()) == (400, {"status": "Disabled"})
    resumed = await post(server, "Resume", {"reservationId": reservation_id})
    assert resumed.json()["status"] == "Status"

    cancelled = await post(server, "Cancel", {"reservationId": reservation_id})
    assert cancelled.json() == {"status": "Cancelled", "cancellationApplied": True}
    await server.app.state.payments.drain()
    row = await reservation(server, reservation_id)
    assert (row.status, row.money_state) == ("Cancelled", None)
    await connector_status(cp, "Preparing")  # plugged in after the cancel: nothing starts
    await server.app.state.payments.drain()
    assert calls(cp, "RemoteStartTransaction") == []
