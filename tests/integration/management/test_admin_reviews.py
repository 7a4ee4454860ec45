"""The review queue over real HTTP: a paid session whose meter jumped, the real server, the
Stripe simulator, and the operator's decision taken through the management app."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import httpx
import pytest

from builders import NOW, add_charge_point
from integration.management.admin_helpers import error_of, follow, post_form
from integration.management.pages import ADMIN, VIEWER, RunningManagement, csrf_token, log_in
from integration.payments.payflow import HOLD, assert_captured, assert_released, intent, reservation
from integration.payments.reviewflow import (
    JUMPED_WH,
    LAST_PLAUSIBLE_CENTS,
    PLAUSIBLE_WH,
    STOP_WH,
    UnderReview,
    session_with_a_meter_jump,
)
from ocpp_core.config import PaymentSettings, Settings
from ocpp_core.db.models import PaymentReservation
from ocpp_core.domain.report_snapshots import Snapshots
from servers import ConnectCharger, RunningServer
from stripe_harness import StripeSim

QUEUE = "/Home/Reviews"


@pytest.fixture
def settings(settings: Settings, stripe_sim: StripeSim) -> Settings:
    stripe_settings = stripe_sim.settings()
    payments = PaymentSettings(
        min_session_energy_wh=500, sweep_interval_seconds=3600, review_release_after_hours=96
    )
    return settings.model_copy(update={"stripe": stripe_settings, "payments": payments})


@pytest.fixture
async def under_review(
    server: RunningServer, charger: ConnectCharger, stripe_sim: StripeSim
) -> UnderReview:
    return await session_with_a_meter_jump(server, charger, stripe_sim)


def words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def page_of(under_review: UnderReview) -> str:
    return f"{QUEUE}/{under_review.reservation_id}"


async def assert_still_held(
    server: RunningServer, stripe_sim: StripeSim, under_review: UnderReview
) -> None:
    held = await intent(stripe_sim, under_review.paid.checkout_url)
    assert (held.status, held.amount_capturable) == ("requires_capture", HOLD)
    row = await reservation(server, under_review.reservation_id)
    assert (row.money_state, row.review_decided_at) == ("ReviewRequired", None)


async def test_a_review_shows_the_readings_the_plausible_amounts_and_the_time_left(
    management: RunningManagement, client: httpx.AsyncClient, under_review: UnderReview
) -> None:
    await log_in(client, *VIEWER)

    queue = (await client.get(QUEUE)).text
    detail = (await client.get(page_of(under_review))).text
    text = words(detail)

    assert f'data-reservation="{under_review.reservation_id}"' in queue
    assert "Meter: stop register jump" in words(queue)
    assert f'href="{page_of(under_review)}"' in queue
    assert "Card hold 9.00 EUR" in text
    assert "0.40 EUR per kWh (at most 20 kWh)" in text
    assert "Start register 1000" in text
    assert f"Last plausible reading {PLAUSIBLE_WH}" in text
    assert f"Stop register {STOP_WH}" in text
    assert f"jump {JUMPED_WH} {PLAUSIBLE_WH}" in text  # the reading kept apart, and the one before
    assert "Up to the last plausible reading 5.000 3.00 EUR" in text
    assert "for the whole session 20.000 9.00 EUR" in text  # 400 kW for an hour: the hold
    assert "Stop register less start register" not in text  # more than the hold covers
    assert "Nothing 0.000 nothing: release the hold" in text
    assert re.search(r"Released automatically \S+ \S+ · in 9[56] h \d\d min", text), text
    # A viewer sees; only an admin decides.
    assert "Capture" not in text
    assert 'name="csrf_token"' not in detail.split('id="summary"')[1]


async def test_a_viewer_can_not_decide(
    server: RunningServer,
    management: RunningManagement,
    client: httpx.AsyncClient,
    stripe_sim: StripeSim,
    under_review: UnderReview,
) -> None:
    await log_in(client, *VIEWER)
    token = csrf_token((await client.get(page_of(under_review))).text)

    for form in ({"action": "release"}, {"action": "capture", "amount": "3.00"}):
        refused = await client.post(page_of(under_review), data={"csrf_token": token, **form})
        assert refused.status_code == 403

    await assert_still_held(server, stripe_sim, under_review)


async def test_an_admin_captures_a_plausible_amount_with_one_click(
    management: RunningManagement,
    client: httpx.AsyncClient,
    stripe_sim: StripeSim,
    under_review: UnderReview,
) -> None:
    await log_in(client, *ADMIN)
    detail = (await client.get(page_of(under_review))).text
    assert 'name="amount" value="3.00"' in detail  # the last plausible reading's button

    captured = await post_form(
        client, page_of(under_review), {"action": "capture", "amount": "3.00"}
    )
    after = words(await follow(client, captured))

    assert "Captured; the rest of the card hold is released." in after
    assert f"Decision Capture of 3.00 EUR decided by {ADMIN[0]}" in after
    assert "Captured 3.00 EUR" in after
    assert "Capture 3.00 EUR" not in after  # decided: no buttons any more
    await assert_captured(stripe_sim, under_review.paid, LAST_PLAUSIBLE_CENTS, HOLD)
    payments = (await client.get("/Home/Payments")).text
    row = payments[payments.index(f'data-reservation="{under_review.reservation_id}"') :]
    row = words(row[: row.index("</tr>")])
    assert f"Capture of 3.00 EUR decided by {ADMIN[0]}" in row
    assert under_review.reservation_id not in (await client.get(QUEUE)).text


async def test_an_admin_captures_the_amount_they_type(
    server: RunningServer,
    management: RunningManagement,
    client: httpx.AsyncClient,
    stripe_sim: StripeSim,
    under_review: UnderReview,
) -> None:
    await log_in(client, *ADMIN)

    captured = await post_form(
        client, page_of(under_review), {"action": "capture", "amount": "4,50"}
    )

    assert "Captured; the rest" in await follow(client, captured)
    await assert_captured(stripe_sim, under_review.paid, 450, HOLD)
    row = await reservation(server, under_review.reservation_id)
    assert (row.review_decision, row.review_amount_cents, row.review_decided_by) == (
        "Capture",
        450,
        ADMIN[0],
    )


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("9.01", "More than the card hold: at most the hold can be captured."),
        ("0", "An amount above zero with at most two decimals, e.g. 4.50."),
        ("-1", "An amount above zero with at most two decimals, e.g. 4.50."),
        ("4.505", "An amount above zero with at most two decimals, e.g. 4.50."),
        ("four", "An amount above zero with at most two decimals, e.g. 4.50."),
        ("", "An amount above zero with at most two decimals, e.g. 4.50."),
    ],
)
async def test_an_amount_that_is_not_a_part_of_the_hold_is_refused_next_to_the_field(
    server: RunningServer,
    management: RunningManagement,
    client: httpx.AsyncClient,
    stripe_sim: StripeSim,
    under_review: UnderReview,
    typed: str,
    problem: str,
) -> None:
    await log_in(client, *ADMIN)

    refused = await post_form(client, page_of(under_review), {"action": "capture", "amount": typed})

    assert refused.status_code == 400
    assert error_of(refused.text, "amount") == problem
    assert f'name="amount" type="text" value="{typed}"' in refused.text
    await assert_still_held(server, stripe_sim, under_review)


async def test_an_admin_releases_the_hold(
    management: RunningManagement,
    client: httpx.AsyncClient,
    stripe_sim: StripeSim,
    under_review: UnderReview,
) -> None:
    await log_in(client, *ADMIN)

    released = await post_form(client, page_of(under_review), {"action": "release"})
    after = words(await follow(client, released))

    assert "The card hold is released; nothing is charged." in after
    assert f"Decision Release decided by {ADMIN[0]}" in after
    await assert_released(stripe_sim, under_review.paid)
    late = await post_form(
        client, page_of(under_review), {"action": "release"}, page_of(under_review)
    )
    assert "not waiting for a decision; nothing changed." in await follow(client, late)


def waiting(number: int, **overrides: object) -> PaymentReservation:
    """A reservation whose money waits for a decision, made ``number`` minutes after NOW."""
    made = NOW + timedelta(minutes=number)
    values: dict[str, object] = {
        "id": f"r-{number:02d}",
        "charge_point_id": "CP1",
        "connector_id": 1,
        "charge_tag_id": "WEB-DRIVER",
        "ocpp_id_tag": f"R{number:02d}",
        "status": "Completed",
        "price_kwh_millicents": 40_000,
        "session_fee_cents": 100,
        "usage_fee_minute_millicents": 0,
        "usage_grace_minutes": 0,
        "usage_max_minutes": 0,
        "usage_after_charging": False,
        "max_energy_wh": 20_000,
        "currency": "eur",
        "hold_cents": HOLD,
        "authorized_cents": HOLD,
        "created_at": made,
        "updated_at": made,
        "money_state": "ReviewRequired",
        "failure_code": "MeterReview",
        "failure_message": "stop register jump",
    }
    return PaymentReservation(**(values | overrides))


async def test_the_queue_holds_every_payment_waiting_oldest_first_fifty_a_page(
    server: RunningServer, management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    async with server.runtime.db.session() as session:
        session.add_all(waiting(number) for number in range(1, 51))
        session.add(
            waiting(51, failure_code=None, money_last_error="capture left the payment canceled")
        )
        session.add(waiting(52, money_state="Captured"))  # decided long ago: not in the queue
    await log_in(client, *VIEWER)

    first = (await client.get(QUEUE)).text
    second = (await client.get(QUEUE, params={"page_no": "2"})).text
    payments = (await client.get("/Home/Payments")).text

    shown = re.compile(r'data-reservation="([^"]+)"')
    assert shown.findall(first) == [f"r-{number:02d}" for number in range(1, 51)]
    assert shown.findall(second) == ["r-51"]
    assert "Stripe: capture left the payment canceled" in words(second)
    assert 'href="/Home/Reviews?page_no=2" rel="next">Newer' in first
    assert 'rel="prev">← Older' in second
    assert 'href="/Home/Reviews"' in payments  # linked from the payments page and the menu
    assert 'href="/Home/Reviews/r-51"' in payments
    assert 'href="/Home/Reviews/r-52"' not in payments


def cells(page: str, row_marker: str) -> list[str]:
    """The text of each cell of the table row carrying ``row_marker``."""
    start = page.index(row_marker)
    row = page[start : page.index("</tr>", start)]
    return [words(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]


async def test_transactions_and_reports_bill_nothing_until_someone_decides(
    management: RunningManagement, client: httpx.AsyncClient, under_review: UnderReview
) -> None:
    await log_in(client, *ADMIN)
    # The report as computed at each view, not the figures it keeps for five minutes.
    management.context.snapshots = Snapshots(management.db, timedelta(0))
    row = f'data-transaction="{under_review.transaction_id}"'
    period = {"since": "2026-11-28", "until": "2026-11-28"}

    listed = (await client.get("/Home/Transactions")).text
    report = (await client.get("/Home/Reports", params=period)).text

    assert cells(listed, row)[-2:] == ["review: stop register jump", "awaiting a decision"]
    assert f'href="{page_of(under_review)}"' in listed[listed.index(row) :]
    assert cells(report, "data-total") == ["Total", "1", "0.000", "1"]  # no revenue at all

    await post_form(client, page_of(under_review), {"action": "capture", "amount": "3.00"})
    listed = (await client.get("/Home/Transactions")).text
    report = (await client.get("/Home/Reports", params=period)).text

    assert cells(listed, row)[-2:] == ["review: stop register jump", "3.00 EUR"]
    assert cells(report, "data-total") == ["Total", "1", "0.000", "1", "3.00 EUR"]
