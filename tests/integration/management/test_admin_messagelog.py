"""The message log over real HTTP: a real charger's messages, filters and pages, newest first."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from ocpp.v16 import call

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
    second = (await client.get("/Home/MessageLog", params={"cp": "CP1", "page_no": "2"})).text
    heartbeats = (
        await client.get("/Home/MessageLog", params={"cp": "CP2", "action": "Heartbeat"})
    ).text
    old = (
        await client.get("/Home/MessageLog", params={"since": "2026-11-25", "until": "2026-11-25"})
    ).text
    bad = await client.get("/Home/MessageLog", params={"since": "yesterday"})

    assert len(_ROW.findall(first)) == 50
    assert len(_ROW.findall(second)) == 11
    assert first.index("[00]") < first.index("[01]")  # newest first
    assert "[50]" in second
    assert 'href="/Home/MessageLog?cp=CP1&amp;page_no=2" rel="next"' in first
    assert 'rel="next"' not in second
    assert "CP2" not in "".join(first.split("<tbody>")[1:])
    assert len(_ROW.findall(heartbeats)) == 30
    assert "MeterValues" not in heartbeats.split("<tbody>")[1]
    assert len(_ROW.findall(old)) == 1
    assert "NotSupported" in old
    assert bad.status_code == 400
    assert 'id="f-since-error"' in bad.text
