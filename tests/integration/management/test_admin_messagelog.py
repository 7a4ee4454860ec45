"""The message log over real HTTP: a real charger's messages, filters and pages, newest first."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from typing import Any

import httpx
import pytest
from ocpp.v16 import call
from sqlalchemy import insert, select

from builders import NOW, add_charge_point, add_tag
from integration.management.pages import VIEWER, log_in
from ocpp_core.db.models import MessageLogEntry
from servers import ConnectCharger, RunningServer
from stripe_harness import eventually

_ROW = re.compile(r'<tr data-log="(\d+)">')


async def test_a_chargers_messages_appear_newest_first(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "TAG1")
    cp = await charger("CP1")
    await cp.call(call.Authorize("TAG1"))
    assert (await server.api.get("/API/Reset/CP1/Soft")).json() == {"status": "Accepted"}
    await log_in(client, *VIEWER)

    async def logged() -> bool:
        page = await client.get("/Home/MessageLog", params={"cp": "CP1"})
        return len(_ROW.findall(page.text)) == 2

    await eventually(logged)
    html = (await client.get("/Home/MessageLog", params={"cp": "CP1"})).text
    rows = html.split("<tbody>")[1].split("</tr>")
    assert '<th scope="row">Reset</th>' in rows[0]  # newest first
    assert "to the charger" in rows[0]
    assert '<th scope="row">Authorize</th>' in rows[1]
    assert "from the charger" in rows[1]
    assert "TAG1" in rows[1]


async def test_filters_by_charger_action_and_period_and_pages(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    async with server.runtime.db.session() as session:
        for minute in range(60):
            for cp_id in ("CP1", "CP2"):
                session.add(
                    MessageLogEntry(
                        logged_at=NOW - timedelta(minutes=minute),
                        charge_point_id=cp_id,
                        direction="in",
                        action="MeterValues" if minute % 2 else "Heartbeat",
                        payload=f"[{minute:02d}]",
                    )
                )
        session.add(
            MessageLogEntry(
                logged_at=NOW - timedelta(days=3),
                charge_point_id="CP1",
                direction="out",
                action="Reset",
                payload="[hard]",
                error_code="NotSupported",
            )
        )
    await log_in(client, *VIEWER)

    first = (await client.get("/Home/MessageLog", params={"cp": "CP1"})).text
    second = (await client.get(link(first, "next"))).text
    back = (await client.get(link(second, "prev"))).text
    heartbeats = (
        await client.get("/Home/MessageLog", params={"cp": "CP2", "action": "Heartbeat"})
    ).text
    old = (
        await client.get("/Home/MessageLog", params={"since": "2026-11-25", "until": "2026-11-25"})
    ).text
    bad = await client.get("/Home/MessageLog", params={"since": "yesterday"})

    assert len(_ROW.findall(first)) == 50
    assert len(_ROW.findall(second)) == 11
    assert _ROW.findall(back) == _ROW.findall(first)
    assert first.index("[00]") < first.index("[01]")  # newest first
    assert "[50]" in second
    assert "cp=CP1" in link(first, "next")
    assert 'rel="next"' not in second
    assert 'rel="prev"' not in first
    assert "CP2" not in "".join(first.split("<tbody>")[1:])
    assert len(_ROW.findall(heartbeats)) == 30
    assert "MeterValues" not in heartbeats.split("<tbody>")[1]
    assert len(_ROW.findall(old)) == 1
    assert "NotSupported" in old
    assert bad.status_code == 400
    assert 'id="f-since-error"' in bad.text


def link(html: str, rel: str) -> str:
    """The address of the page's ``rel`` link (next: older, prev: newer)."""
    match = re.search(rf'href="([^"]+)" rel="{rel}"', html)
    assert match, f"no {rel} link"
    return match.group(1).replace("&amp;", "&")


def log_rows(count: int, *, newest: datetime, first: int = 0) -> list[dict[str, Any]]:
    """``count`` MeterValues rows back from ``newest``, ten a second (the id orders those)."""
    return [
        {
            "logged_at": newest - timedelta(seconds=n // 10),
            "charge_point_id": "CP1",
            "direction": "in",
            "action": "MeterValues",
            "payload": f'{{"n": {first + n}}}',
        }
        for n in range(count)
    ]


@pytest.mark.long
async def test_thousands_of_rows_are_walked_a_page_at_a_time_while_more_arrive(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    """Each page holds one page of rows; older links reach every row once, although the
    chargers keep talking meanwhile; newer links lead back to the newest page."""
    total = 2_120
    async with server.runtime.db.session() as session:
        await session.execute(insert(MessageLogEntry), log_rows(total, newest=NOW))
        newest_first = select(MessageLogEntry.id).order_by(
            MessageLogEntry.logged_at.desc(), MessageLogEntry.id.desc()
        )
        stored = list(await session.scalars(newest_first))
    await log_in(client, *VIEWER)

    html = (await client.get("/Home/MessageLog")).text
    pages = [_ROW.findall(html)]
    while 'rel="next"' in html:
        arriving = log_rows(7, newest=NOW + timedelta(minutes=len(pages)), first=total)
        async with server.runtime.db.session() as session:
            await session.execute(insert(MessageLogEntry), arriving)
        html = (await client.get(link(html, "next"))).text
        pages.append(_ROW.findall(html))
    walked_back = 1
    while 'rel="prev"' in html:
        html = (await client.get(link(html, "prev"))).text
        walked_back += 1
    newest = (await client.get("/Home/MessageLog")).text

    ids = [int(row_id) for page in pages for row_id in page]
    assert [len(page) for page in pages] == [50] * 42 + [20]
    assert ids == stored  # every row, once, newest first
    assert walked_back > len(pages)  # the rows that arrived made pages of their own
    assert _ROW.findall(html) == _ROW.findall(newest)
    assert 'rel="first"' not in html
    assert 'rel="first"' in (await client.get(link(newest, "next"))).text


async def test_a_huge_stored_message_is_shown_cut_in_the_list_and_on_its_page(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    """Rows kept before the cap can be megabytes; neither page grows with them."""
    huge = '{"data": "' + "x" * 5_000_000 + '"}'
    async with server.runtime.db.session() as session:
        entry = MessageLogEntry(
            logged_at=NOW,
            charge_point_id="CP1",
            direction="in",
            action="DataTransfer",
            payload=huge,
            answer='{"status": "Accepted", "data": "pong"}',
        )
        session.add(entry)
    await log_in(client, *VIEWER)

    listed = unescape((await client.get("/Home/MessageLog")).text)
    shown = unescape((await client.get(f"/Home/MessageLog/{entry.id}")).text)

    assert len(listed) < 50_000
    assert '{"data": "xxxx' in listed
    assert "x…</code>" in listed
    assert f'href="/Home/MessageLog/{entry.id}"' in listed
    assert len(shown) < 20_000  # the configured 4 KiB of it, and the page around
    assert "x…</pre>" in shown
    assert '{\n  "status": "Accepted",' in shown  # the answer, indented


async def test_unknown_and_malformed_addresses_are_refused(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    anonymous = await client.get("/Home/MessageLog/1")
    assert anonymous.headers["location"] == "/Account/Login?ReturnUrl=%2FHome%2FMessageLog%2F1"
    await log_in(client, *VIEWER)
    for path, status in (
        ("/Home/MessageLog?before=yesterday", 400),
        ("/Home/MessageLog?after=1_2_3", 400),
        ("/Home/MessageLog/12345", 404),
        (f"/Home/MessageLog/{2**63}", 400),
        ("/Home/MessageLog/abc", 400),
    ):
        assert (await client.get(path)).status_code == status, path
