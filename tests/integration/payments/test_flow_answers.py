"""What the API answers a driver whose reservation is unknown, already further on, or can't be.

Each answer is checked together with what it must not have done: no second
remote start, no checkout, no money moved at Stripe.
"""

from __future__ import annotations

from ocpp.v16 import call

from builders import add_tag, timestamp
from integration.payments.payflow import (
    DUE,
    HOLD,
    Paid,
    assert_captured,
    calls,
    checkout_session_id,
    connector_status,
    create,
    create_answer,
    events,
    money_state_is,
    next_call,
    post,
    priced_charger,
    stage_is,
    status,
    stop_charging,
)
from ocpp_core.domain.pricing import Tariff
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim, eventually


async def test_an_unknown_reservation_is_not_found_by_any_action(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    await priced_charger(server, charger)
    unknown = {"reservationId": "no-such-reservation"}
    for action in ("Cancel", "Stop", "Resume"):
        answer = await post(server, action, unknown)
        assert (answer.status_code, answer.json()["status"]) == (404, "NotFound"), action
    cancelled = await post(server, "Cancel", unknown)
    assert cancelled.json()["cancellationApplied"] is False
    view = await server.api.get("/API/Payments/Status", params=unknown)
    assert view.status_code == 404
    assert await events(stripe_sim) == []  # nothing was asked of Stripe


async def test_the_browser_returning_late_never_starts_or_charges_twice(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    """Confirm after the webhook's start, while charging, and after the capture."""
    cp = await priced_charger(server, charger)
    await connector_status(cp, "Preparing")  # plugged in first: the webhook starts at once
    created = await create(server)
    reservation_id = created["reservationId"]
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
    start = await next_call(cp, "RemoteStartTransaction")

    async def start_requested() -> bool:
        return bool((await status(server, reservation_id))["status"] == "StartRequested")

    await eventually(start_requested)
    body = {
        "reservationId": reservation_id,
        "checkoutSessionId": checkout_session_id(created["checkoutUrl"]),
    }
    confirmed = await post(server, "Confirm", body)
    assert (confirmed.status_code, confirmed.json()) == (
        200,
        {"status": "StartRequested", "reason": "AlreadyRequested"},
    )

    started = await cp.call(call.StartTransaction(1, start["id_tag"], 1_000, timestamp()))
    await stage_is(server, reservation_id, "charging")
    confirmed = await post(server, "Confirm", body)
    assert confirmed.json() == {"status": "Charging", "reason": "AlreadyAdvanced"}
    assert len(calls(cp, "RemoteStartTransaction")) == 1

    await stop_charging(cp, started.transaction_id, start["id_tag"])
    await money_state_is(server, reservation_id, "Captured")
    # Completed and paid for: no late payment to give back, nothing to stop.
    confirmed = await post(server, "Confirm", body)
    assert (confirmed.status_code, confirmed.json()["status"]) == (400, "Completed")
    stopped = await post(server, "Stop", {"reservationId": reservation_id})
    assert stopped.json() == {
        "status": "AlreadyStopped",
        "reservationStatus": "Completed",
        "reservationId": reservation_id,
    }
    assert calls(cp, "RemoteStopTransaction") == []
    view = await status(server, reservation_id)
    assert (view["paidLate"], view["receipt"]["capturedCents"]) == (False, DUE)
    paid = Paid(reservation_id, body["checkoutSessionId"], created)
    await assert_captured(stripe_sim, paid, DUE, HOLD)


async def test_a_connector_in_use_without_a_reservation_is_refused_and_nothing_is_held(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger)
    await connector_status(cp, "Charging")
    refused = await create_answer(server)
    assert (refused.status_code, refused.json()) == (
        409,
        {"status": "ConnectorBusy", "reason": "Status:Charging"},
    )
    # A card session the charger reports no status for still holds its connector.
    await connector_status(cp, "Available")
    await add_tag(server.runtime.db, "RFID-1")
    started = await cp.call(call.StartTransaction(1, "RFID-1", 0, timestamp()))
    assert started.id_tag_info["status"] == "Accepted"
    refused = await create_answer(server)
    assert (refused.status_code, refused.json()) == (
        409,
        {"status": "ConnectorBusy", "reason": "OpenTransaction"},
    )
    assert await events(stripe_sim) == []

    await cp.call(call.StopTransaction(500, timestamp(), started.transaction_id, "Local"))
    assert (await create(server))["status"] == "Redirect"


async def test_a_free_session_the_charger_refuses_says_so_and_frees_the_connector(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> None:
    cp = await priced_charger(server, charger, Tariff(free=True, max_energy_wh=20_000))
    await connector_status(cp, "Preparing")
    cp.answers["RemoteStartTransaction"] = {"status": "Rejected"}
    refused = await create_answer(server)
    body = refused.json()
    assert (refused.status_code, body["status"], body["reason"]) == (
        200,
        "StartRejected",
        "Rejected",
    )
    view = await status(server, body["reservationId"])
    assert (view["status"], view["failureCode"], view["money"]["state"]) == (
        "StartRejected",
        "RemoteStartRejected",
        None,  # free: no card was ever held
    )
    cp.answers.clear()
    again = await create_answer(server, "WEB-NEXT")
    assert again.json()["status"] == "Accepted"
    assert await events(stripe_sim) == []
