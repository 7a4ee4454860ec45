"""The operator lists at fleet scale: pages by key, search by prefix, bounded parameters.

Each list is paged through more rows than a page holds, forward and back, over real
HTTP and a real database: every row is shown once, none is skipped, and rows that
tie on the sort key (transactions started at the same second) are ordered by id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from html import unescape

import httpx

from builders import NOW
from integration.management.pages import VIEWER, log_in
from ocpp_core.clock import utc_now
from ocpp_core.db.models import ChargePoint, ChargeTag, Connector, PaymentReservation, Transaction
from ocpp_core.management.chargepoints import PAGE_SIZE
from ocpp_core.management.listing import MAX_KEY_LENGTH, MAX_SEARCH_LENGTH
from servers import RunningServer

_LINK = r'href="({path}\?[^"]*)" rel="{rel}"'


async def _walk(
    client: httpx.AsyncClient, path: str, shown: re.Pattern[str], params: dict[str, str]
) -> tuple[list[list[str]], list[list[str]]]:
    """The pages from the first by "next" links, then back from the last by "prev" links."""
    forward = []
    response = await client.get(path, params=params)
    while True:
        assert response.status_code == 200
        forward.append(shown.findall(response.text))
        following = re.search(_LINK.format(path=path, rel="next"), response.text)
        if following is None:
            break
        response = await client.get(unescape(following.group(1)))
    backward = [forward[-1]]
    while previous := re.search(_LINK.format(path=path, rel="prev"), response.text):
        response = await client.get(unescape(previous.group(1)))
        backward.append(shown.findall(response.text))
    return forward, backward[::-1]


def _flat(pages: Iterable[list[str]]) -> list[str]:
    return [row for page in pages for row in page]


def _station(number: int, name: str | None = None) -> ChargePoint:
    return ChargePoint(id=f"CP-{number:03d}", name=name, created_at=NOW)


async def test_charge_points_page_forward_and_back_and_search_by_id_or_name(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    async with server.runtime.db.session() as session:
        session.add_all(_station(n, name="Depot" if n % 10 == 0 else None) for n in range(120))
        session.add_all(
            [ChargePoint(id="cp_x", created_at=NOW), ChargePoint(id="CPAX", created_at=NOW)]
        )
    await log_in(client, *VIEWER)
    shown = re.compile(r'<tr data-cp="([^"]+)">')
    everyone = sorted([f"CP-{n:03d}" for n in range(120)] + ["cp_x", "CPAX"])

    forward, backward = await _walk(client, "/Home/ChargePoint", shown, {})
    by_id = await _walk(client, "/Home/ChargePoint", shown, {"q": "cp-0"})
    by_name = await _walk(client, "/Home/ChargePoint", shown, {"q": "dEP"})
    literal = (await client.get("/Home/ChargePoint", params={"q": "CP_"})).text

    assert [len(page) for page in forward] == [PAGE_SIZE, PAGE_SIZE, 22]
    assert sorted(_flat(forward)) == sorted(everyone)  # in the database's order, each once
    assert backward == forward
    assert _flat(by_id[0]) == [f"CP-{n:03d}" for n in range(100)]
    assert _flat(by_name[0]) == [f"CP-{n:03d}" for n in range(0, 120, 10)]
    assert shown.findall(literal) == ["cp_x"]  # _ is a character, not a wildcard


async def test_connectors_page_and_narrow_to_charge_points_by_prefix(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    async with server.runtime.db.session() as session:
        session.add_all(_station(n) for n in range(40))
        await session.flush()
        session.add_all(
            Connector(charge_point_id=f"CP-{n:03d}", connector_id=c, status="Available")
            for n in range(40)
            for c in (1, 2, 3)
        )
    await log_in(client, *VIEWER)
    shown = re.compile(r'<tr data-connector="([^"]+)">')

    forward, backward = await _walk(client, "/Home/Connector", shown, {})
    narrowed = await _walk(client, "/Home/Connector", shown, {"q": "cp-01"})
    page = (await client.get("/Home/Connector", params={"q": "cp-01"})).text
    live = (await client.get("/Home/Connector/Live", params={"q": "cp-01"})).text

    assert len(forward) == 3
    assert len(_flat(forward)) == len(set(_flat(forward))) == 120
    assert backward == forward
    assert _flat(narrowed[0]) == [f"CP-01{n}/{c}" for n in range(10) for c in (1, 2, 3)]
    assert 'hx-get="/Home/Connector/Live?q=cp-01"' in page  # the live table keeps the search
    assert shown.findall(live) == _flat(narrowed[0])


async def test_tags_page_and_search_by_id_or_name(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    async with server.runtime.db.session() as session:
        session.add_all(
            ChargeTag(id=f"TAG{n:03d}", name="Fleet" if n < 5 else None, created_at=NOW)
            for n in range(110)
        )
    await log_in(client, *VIEWER)
    shown = re.compile(r'<tr data-tag="([^"]+)">')

    forward, backward = await _walk(client, "/Home/ChargeTag", shown, {})
    by_name = await _walk(client, "/Home/ChargeTag", shown, {"q": "fleet"})
    by_id = await _walk(client, "/Home/ChargeTag", shown, {"q": "tag10"})

    assert _flat(forward) == [f"TAG{n:03d}" for n in range(110)]
    assert backward == forward
    assert _flat(by_name[0]) == [f"TAG{n:03d}" for n in range(5)]
    assert _flat(by_id[0]) == [f"TAG{n:03d}" for n in range(100, 110)]


def _transaction(number: int, *, tag: str) -> Transaction:
    return Transaction(
        id=number,
        charge_point_id="CP-000",
        connector_id=1 + number % 2,
        start_tag=tag,
        start_at=NOW - timedelta(hours=number // 40),  # 40 at each start time: ties
        meter_start_wh=0,
        start_result="Accepted",
    )


async def test_transactions_page_through_ties_and_filter_by_tag_connector_and_period(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    async with server.runtime.db.session() as session:
        session.add(_station(0))
        await session.flush()
        session.add_all(_transaction(n, tag="A" if n % 3 else "B") for n in range(1, 131))
    await log_in(client, *VIEWER)
    shown = re.compile(r'<tr data-transaction="(\d+)">')
    newest_first = sorted(range(1, 131), key=lambda n: (n // 40, -n))
    day = NOW.date().isoformat()

    forward, backward = await _walk(client, "/Home/Transactions", shown, {})
    tagged = await _walk(client, "/Home/Transactions", shown, {"tag": "B"})
    narrowed = await _walk(
        client, "/Home/Transactions", shown, {"tag": "A", "conn": "2", "since": day}
    )

    assert [int(row) for row in _flat(forward)] == newest_first
    assert backward == forward
    assert [int(row) for row in _flat(tagged[0])] == [n for n in newest_first if n % 3 == 0]
    assert [int(row) for row in _flat(narrowed[0])] == [n for n in newest_first if n % 3 and n % 2]


def _reservation(number: int, *, status: str) -> PaymentReservation:
    made = NOW - timedelta(minutes=number // 30)  # ties too
    return PaymentReservation(
        id=f"r-{number:03d}",
        charge_point_id="CP-000",
        connector_id=1,
        charge_tag_id="WEB-DRIVER",
        ocpp_id_tag="WEB-DRIVER",
        status=status,
        price_kwh_millicents=0,
        session_fee_cents=0,
        usage_fee_minute_millicents=0,
        usage_grace_minutes=0,
        usage_max_minutes=0,
        usage_after_charging=False,
        max_energy_wh=0,
        currency="eur",
        hold_cents=500,
        created_at=made,
        updated_at=made,
    )


async def test_payments_page_through_ties_and_filter_by_state_and_period(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    async with server.runtime.db.session() as session:
        session.add(_station(0))
        await session.flush()
        session.add_all(
            _reservation(n, status="Completed" if n % 4 else "Cancelled") for n in range(110)
        )
    await log_in(client, *VIEWER)
    shown = re.compile(r'data-reservation="([^"]+)"')
    newest_first = [f"r-{n:03d}" for n in sorted(range(110), key=lambda n: (n // 30, -n))]

    forward, backward = await _walk(client, "/Home/Payments", shown, {"cp": "CP-000"})
    cancelled = await _walk(client, "/Home/Payments", shown, {"status": "Cancelled"})
    before_today = (
        await client.get(
            "/Home/Payments", params={"until": (NOW - timedelta(days=1)).date().isoformat()}
        )
    ).text

    assert _flat(forward) == newest_first
    assert backward == forward
    assert _flat(cancelled[0]) == [row for row in _flat(forward) if int(row[2:]) % 4 == 0]
    assert shown.findall(before_today) == []


_BAD = [
    ("/Home/ChargePoint", {"q": "x" * (MAX_SEARCH_LENGTH + 1)}),
    ("/Home/ChargePoint", {"after": "x" * (MAX_KEY_LENGTH + 1)}),
    ("/Home/Connector", {"after": "CP1_one"}),  # a connector number that is no number
    ("/Home/Connector", {"before": "CP1_99999999999"}),  # past the column's range
    ("/Home/ChargeTag", {"q": "x" * (MAX_SEARCH_LENGTH + 1)}),
    ("/Home/Transactions", {"before": "tomorrow_1"}),
    ("/Home/Transactions", {"tag": "x" * (MAX_SEARCH_LENGTH + 1)}),
    ("/Home/Transactions", {"since": "someday"}),
    ("/Home/Payments", {"status": "Paid"}),
    ("/Home/Payments", {"after": "1"}),  # a time without its id
    ("/Home/Payments", {"since": "2026-13-01"}),
    ("/Home/MessageLog", {"cp": "x" * (MAX_SEARCH_LENGTH + 1)}),
    ("/Home/Pick/ChargePoint", {"q": "x" * (MAX_SEARCH_LENGTH + 1)}),
]


async def test_bad_search_or_page_key_is_a_bad_request(client: httpx.AsyncClient) -> None:
    await log_in(client, *VIEWER)

    answers = {
        (path, str(params)): (await client.get(path, params=params)).status_code
        for path, params in _BAD
    }

    assert set(answers.values()) == {400}, answers


async def test_pickers_suggest_a_few_ids_by_prefix_to_operators_only(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    async with server.runtime.db.session() as session:
        session.add_all(_station(n) for n in range(30))
        session.add_all(ChargeTag(id=f"T{n}", created_at=NOW) for n in range(3))
        session.add(ChargeTag(id="other", created_at=NOW))

    anonymous = await client.get("/Home/Pick/ChargePoint", params={"q": "CP"})
    await log_in(client, *VIEWER)
    first = await client.get("/Home/Pick/ChargePoint")
    prefixed = await client.get("/Home/Pick/ChargePoint", params={"q": "cp-02"})
    tags = await client.get("/Home/Pick/ChargeTag", params={"q": "t"})
    none = await client.get("/Home/Pick/ChargeTag", params={"q": "CP"})

    assert anonymous.status_code in (302, 303, 401)
    assert "CP-000" not in anonymous.text
    assert first.json() == [f"CP-{n:03d}" for n in range(20)]  # at most 20, in order
    assert prefixed.json() == [f"CP-{n:03d}" for n in range(20, 30)]
    assert tags.json() == ["T0", "T1", "T2"]
    assert none.json() == []


async def test_a_remote_starts_field_suggests_only_tags_a_charger_would_accept(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    now = utc_now()  # the management app's clock is the real one here
    async with server.runtime.db.session() as session:
        session.add(ChargeTag(id="T-ok", created_at=NOW))
        session.add(ChargeTag(id="T-later", expires_at=now + timedelta(days=1), created_at=NOW))
        session.add(ChargeTag(id="T-blocked", blocked=True, created_at=NOW))
        session.add(ChargeTag(id="T-expired", expires_at=now - timedelta(days=1), created_at=NOW))
    await log_in(client, *VIEWER)

    starting = await client.get("/Home/Pick/ChargeTag/Starting", params={"q": "t-"})
    every = await client.get("/Home/Pick/ChargeTag", params={"q": "t-"})

    assert starting.json() == ["T-later", "T-ok"]
    assert every.json() == ["T-blocked", "T-expired", "T-later", "T-ok"]


async def test_filter_pages_ask_for_ids_instead_of_listing_every_station(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    async with server.runtime.db.session() as session:
        session.add_all(_station(n) for n in range(60))
    await log_in(client, *VIEWER)

    for path in ("/Home/Transactions", "/Home/Payments", "/Home/MessageLog", "/Home/Reports"):
        html = (await client.get(path)).text
        assert 'data-pick="/Home/Pick/ChargePoint"' in html, path
        assert "CP-059" not in html, path
