"""Two ``ocpp-core server`` processes, one PostgreSQL database, one Redis: one central system.

A charger connects to node A; the API of node B sees it and commands it, the
CALL reaching the charger once and its answer coming back in B's HTTP answer.
The charger moves to B and A lets go of its old socket; A's commands follow it.
A node killed with SIGKILL takes its chargers offline within seconds, and a
command in flight through it ends with the timeout error, not a hang. Redis
restarted empty: calls meanwhile fail clearly, and the nodes write their
chargers again by themselves.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from ocpp.exceptions import NotSupportedError
from redis.asyncio import Redis
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from chargers import RawCharger
from cli_harness import provision
from cluster_harness import (
    COMMAND_TIMEOUT,
    api,
    charger16,
    charger201,
    in_process_node,
    node,
    redis_server,
)
from ocpp_core.config import Settings
from ocpp_core.db.models import MessageLogEntry
from ocpp_core.db.session import Database
from ocpp_core.domain.command_results import CommandResult, Outcome
from ocpp_core.domain.commands import Reset

pytestmark = [pytest.mark.postgresql, pytest.mark.long]

CP, CP201, SILENT = "CL-16", "CL-201", "CL-SILENT"
SCENARIO_TIMEOUT = 90.0  # a hang fails the test instead of the run


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> str:
    provision(database_url, tmp_path, [CP, CP201, SILENT], [])
    return database_url


async def count_logged(database_url: str, action: str) -> int:
    db = Database(database_url)
    try:
        async with db.reading() as session:
            query = select(func.count()).where(MessageLogEntry.action == action)
            return int((await session.execute(query)).scalar_one())
    finally:
        await db.close()


async def test_a_charger_on_one_node_is_seen_and_commanded_through_the_other(
    fleet: str, tmp_path: Path, prefix: str, settings: Settings
) -> None:
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        node(fleet, tmp_path, "a", prefix) as a,
        in_process_node(settings, "b", prefix) as b,
        api(a) as api_a,
        api(b) as api_b,
        charger16(a.ws_url(CP)) as on_a,
    ):
        status = await api_b.get("/API/Status")
        assert [charger["id"] for charger in status.json()] == [CP]

        answer = await api_b.get(f"/API/GetConfiguration/{CP}")
        assert answer.status_code == 200
        assert answer.json() == {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        }
        assert on_a.requests == [("GetConfiguration", {})]
        # Logged once, by the node that holds the socket.
        assert await count_logged(fleet, "GetConfiguration") == 1

        on_a.answers["Reset"] = {"status": "Rejected"}
        answer = await api_b.get(f"/API/Reset/{CP}/Hard")
        assert answer.json() == {"status": "Rejected"}
        assert on_a.requests[1:] == [("Reset", {"type": "Hard"})]

        # The charger moves to B: A closes the socket it held, and A's commands follow.
        async with charger16(b.ws_url(CP)) as on_b:
            async with asyncio.timeout(10):
                await on_a.connection.websocket.wait_closed()
            answer = await api_a.get(f"/API/Reset/{CP}/Soft")
            assert answer.json() == {"status": "Accepted"}
            assert on_b.requests == [("Reset", {"type": "Soft"})]
            assert len(on_a.requests) == 2
            answer = await api_b.get(f"/API/ClearCache/{CP}")
            assert answer.json() == {"status": "Accepted"}
            assert on_b.requests[1:] == [("ClearCache", {})]


async def test_a_socket_still_closing_here_does_not_keep_a_command_from_its_new_node(
    fleet: str, tmp_path: Path, prefix: str, settings: Settings
) -> None:
    """The charger moves from B to A: a command B sends while closing its socket goes to A.

    B closes on A's order, then marks the charger offline in the database and in
    Redis before it forgets the socket; a command met that window by chance before.
    """
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        node(fleet, tmp_path, "a", prefix) as a,
        in_process_node(settings, "b", prefix) as b,
        charger16(b.ws_url(CP)) as old,
    ):
        on_b = b.runtime.registry.get(CP)
        assert on_b is not None

        async def the_moment_b_closes() -> CommandResult:
            # Every turn of the loop: the window is a few turns wide, and nothing signals it.
            while not on_b.closed:  # noqa: ASYNC110
                await asyncio.sleep(0)
            assert b.runtime.registry.get(CP) is on_b  # closed, not yet forgotten
            return await b.runtime.router.send(CP, Reset(hard=False))

        command = asyncio.create_task(the_moment_b_closes())
        async with charger16(a.ws_url(CP)) as on_a:
            result = await asyncio.wait_for(command, 10)
            assert (result.outcome, result.status) == (Outcome.ANSWERED, "Accepted")
            assert on_a.requests == [("Reset", {"type": "Soft"})]
            assert old.requests == []


async def test_a_201_charger_is_commanded_through_another_node(
    fleet: str, tmp_path: Path, prefix: str, settings: Settings
) -> None:
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        node(fleet, tmp_path, "a", prefix) as a,
        in_process_node(settings, "b", prefix) as b,
        api(b) as api_b,
        charger201(a.ws_url(CP201)) as charger,
    ):
        answer = await api_b.get(f"/API/GetVariables/{CP201}/OCPPCommCtrlr/HeartbeatInterval")
        assert answer.status_code == 200
        assert answer.json()["getVariableResult"][0]["attributeValue"] == "300"
        answer = await api_b.get(f"/API/Reset/{CP201}/Hard")
        assert answer.json() == {"status": "Accepted"}
        assert [action for action, _ in charger.requests] == ["GetVariables", "Reset"]


async def test_refusals_come_back_through_another_node_as_they_do_locally(
    fleet: str, tmp_path: Path, prefix: str, settings: Settings
) -> None:
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        node(fleet, tmp_path, "a", prefix) as a,
        in_process_node(settings, "b", prefix) as b,
        api(b) as api_b,
        charger16(a.ws_url(CP)) as on_a,
    ):

        def refuse(**request: Any) -> Any:
            raise NotSupportedError(description="not on this model")

        on_a.route_map["UnlockConnector"] = {"_on_action": refuse}
        answer = await api_b.get(f"/API/UnlockConnector/{CP}/1")
        assert answer.json() == {
            "status": "NotSupported",
            "error": "NotSupported",
            "description": "not on this model",
        }
        # A CALL that breaks the schema is refused by the holder before it goes out.
        answer = await api_b.get(f"/API/GetConfiguration/{CP}/{'K' * 51}")
        assert (answer.status_code, answer.json()["status"]) == (400, "InvalidParameter")
        # A command 1.6 has no word for is refused on B itself.
        answer = await api_b.get(f"/API/GetVariables/{CP}/OCPPCommCtrlr/HeartbeatInterval")
        assert (answer.status_code, answer.json()["status"]) == (501, "NotSupported")
        assert on_a.requests == []  # the refusal was the library's, before the recorder


async def test_the_router_of_any_node_knows_the_whole_fleet(
    fleet: str, tmp_path: Path, prefix: str, settings: Settings
) -> None:
    """Asked in-process, of a node that holds one charger while another node holds one."""
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        node(fleet, tmp_path, "a", prefix) as a,
        in_process_node(settings, "here", prefix) as here,
        charger16(a.ws_url(CP)),
        charger201(here.ws_url(CP201)),
    ):
        router = here.runtime.router
        assert await router.online() == [(CP, "ocpp1.6"), (CP201, "ocpp2.0.1")]
        assert [await router.is_online(cp) for cp in (CP, CP201, SILENT)] == [True, True, False]


async def test_a_killed_node_takes_its_chargers_offline_and_ends_the_calls_through_it(
    fleet: str, tmp_path: Path, prefix: str, redis: Redis, settings: Settings
) -> None:
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        node(fleet, tmp_path, "a", prefix) as a,
        in_process_node(settings, "b", prefix) as b,
        api(b) as api_b,
        charger16(a.ws_url(CP)),
        connect(a.ws_url(SILENT), subprotocols=[Subprotocol("ocpp1.6")]) as ws,
    ):
        silent = await booted_raw(ws)
        started = time.monotonic()
        call_through_a = asyncio.create_task(api_b.get(f"/API/Reset/{SILENT}"))
        request = await silent.connection.recv()  # the CALL reached it; it never answers
        assert '"Reset"' in str(request)

        a.process.send_signal(signal.SIGKILL)
        await a.process.wait()
        # A's liveness key has seconds to live, but nobody reads its channel: offline at once.
        answer = await api_b.get(f"/API/Reset/{CP}")
        assert (answer.status_code, answer.json()["status"]) == (404, "ChargerOffline")
        assert await redis.exists(f"{prefix}:node:{prefix}-a") == 1

        answer = await call_through_a
        assert answer.json() == {"status": "Timeout"}
        # Ended when A's liveness ran out, well before the command timeout.
        assert time.monotonic() - started < COMMAND_TIMEOUT

        answer = await api_b.get(f"/API/Reset/{SILENT}")
        assert (answer.status_code, answer.json()["status"]) == (404, "ChargerOffline")

        # The pages that read the database agree within seconds: B cleared A's rows.
        async with asyncio.timeout(10):
            while (await api_b.get("/API/Status")).json() != []:  # noqa: ASYNC110 -- polled
                await asyncio.sleep(0.2)  # another process's state: no event to wait on
        assert await redis.hkeys(f"{prefix}:chargers") == []


async def test_a_node_that_stops_takes_its_entries_with_it(
    fleet: str, tmp_path: Path, prefix: str, redis: Redis
) -> None:
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        node(fleet, tmp_path, "a", prefix) as a,
        node(fleet, tmp_path, "b", prefix) as b,
        api(b) as api_b,
        charger16(a.ws_url(CP)) as on_a,
    ):
        assert await redis.hkeys(f"{prefix}:chargers") == [CP.encode()]
        a.process.send_signal(signal.SIGTERM)
        assert await a.process.wait() == 0
        await on_a.connection.websocket.wait_closed()

        assert await redis.hkeys(f"{prefix}:chargers") == []
        assert await redis.exists(f"{prefix}:node:{prefix}-a") == 0
        answer = await api_b.get(f"/API/Reset/{CP}")
        assert (answer.status_code, answer.json()["status"]) == (404, "ChargerOffline")


async def booted_raw(ws: ClientConnection) -> RawCharger:
    raw = RawCharger(ws, answer_timeout=COMMAND_TIMEOUT)
    await raw.result("BootNotification", {"chargePointModel": "M", "chargePointVendor": "V"})
    return raw


async def test_presence_and_routing_come_back_after_redis_restarts_empty(
    fleet: str, tmp_path: Path, prefix: str, settings: Settings
) -> None:
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        redis_server(tmp_path) as first,
        node(fleet, tmp_path, "a", prefix, redis_url=first.url) as a,
        in_process_node(settings, "b", prefix, redis_url=first.url) as b,
        api(b) as api_b,
        charger16(a.ws_url(CP)) as on_a,
    ):
        assert (await api_b.get(f"/API/ClearCache/{CP}")).json() == {"status": "Accepted"}
        await first.kill()

        # While it is away: a clear error at once, never a 500 or a hang.
        answer = await api_b.get(f"/API/ClearCache/{CP}")
        assert (answer.status_code, answer.json()["status"]) == (503, "ClusterUnavailable")

        async with redis_server(tmp_path, first.port):
            answers: list[tuple[int, str]] = []
            while not answers or answers[-1] != (200, "Accepted"):
                if answers:
                    await asyncio.sleep(0.1)
                answer = await api_b.get(f"/API/ClearCache/{CP}")
                answers.append((answer.status_code, answer.json()["status"]))
            # Until A wrote its charger again, B found it nowhere; until B listened to its
            # reply channel again, it sent nothing whose answer could not come back.
            assert set(answers[:-1]) <= {(404, "ChargerOffline"), (503, "ClusterUnavailable")}
        assert [action for action, _ in on_a.requests] == ["ClearCache", "ClearCache"]
