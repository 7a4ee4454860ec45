"""The reservations page over real HTTP: an operator reserves a connector through the server,
which asks the charger; the page lists it, and Cancel (through the server) ends it."""

from __future__ import annotations

import httpx

from builders import add_charge_point, add_tag
from integration.management.admin_helpers import follow, post_form
from integration.management.pages import ADMIN, VIEWER, RunningManagement, csrf_token, log_in
from ocpp_core.db.models import ChargerReservation
from servers import ConnectCharger, RunningServer

PAGE = "/Home/Reservations"


def row_of(html: str, reservation_id: int) -> str:
    row = html[html.index(f'data-reservation="{reservation_id}"') :]
    return row[: row.index("</tr>")]


async def test_an_operator_reserves_and_cancels_a_connector(
    server: RunningServer,
    charger: ConnectCharger,
    management: RunningManagement,
    client: httpx.AsyncClient,
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "ALICE")
    cp = await charger("CP1")
    await log_in(client, *ADMIN)
    station = (await client.get("/Home/ChargePoint/CP1")).text
    assert 'href="/Home/Reservations?cp=CP1" id="reservations-link"' in station

    form = {"station": "CP1", "conn": "1", "tag": "ALICE", "minutes": "30", "back": PAGE}
    reserved = await follow(client, await post_form(client, PAGE, form))

    assert "Reserve: Accepted." in reserved
    (action, request), *_ = cp.requests
    assert action == "ReserveNow"
    reservation_id = request["reservation_id"]
    row = row_of(reserved, reservation_id)
    assert 'data-status="Accepted"' in row
    assert "CP1 #1" in row
    assert f'aria-label="Cancel reservation {reservation_id}"' in row
    async with management.db.session() as session:
        stored = await session.get(ChargerReservation, reservation_id)
        assert stored is not None
        assert stored.created_by == ADMIN[0]

    cancel = {"reservation_id": str(reservation_id), "back": PAGE}
    cancelled = await follow(client, await post_form(client, PAGE, cancel, f"{PAGE}/Cancel"))

    assert f"{reservation_id}: Cancel reservation: Accepted." in cancelled
    row = row_of(cancelled, reservation_id)
    assert 'data-status="Cancelled"' in row
    assert "Cancel reservation" not in row
    assert cp.requests[-1] == ("CancelReservation", {"reservation_id": reservation_id})


async def test_a_bad_reservation_form_reaches_no_charger(
    server: RunningServer,
    charger: ConnectCharger,
    management: RunningManagement,
    client: httpx.AsyncClient,
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await log_in(client, *ADMIN)
    good = {"station": "CP1", "conn": "1", "tag": "ALICE", "minutes": "30"}

    for bad in (
        {"station": ""},
        {"conn": "x"},
        {"conn": "1001"},
        {"tag": "T" * 21},
        {"minutes": "0"},
        {"minutes": "100000"},
    ):
        answer = await follow(client, await post_form(client, PAGE, {**good, **bad}))
        assert "Reserve: " in answer
    unknown_tag = await follow(client, await post_form(client, PAGE, good))

    assert "Reserve: TagNotAccepted (tag Invalid)." in unknown_tag
    assert cp.requests == []


async def test_a_viewer_sees_reservations_but_can_not_reserve(
    server: RunningServer, management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await log_in(client, *VIEWER)
    html = (await client.get(PAGE)).text

    response = await client.post(
        PAGE, data={"csrf_token": csrf_token(html), "station": "CP1", "conn": "1"}
    )

    assert "No reservations." in html
    assert "reserve-form" not in html
    assert response.status_code == 403
