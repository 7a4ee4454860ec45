"""A shutdown step that never ends is left behind, named in the log; the others run."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ocpp_core.server.shutdown import bounded


async def test_a_step_that_never_ends_is_left_behind_and_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    never = asyncio.Event()
    stuck = asyncio.ensure_future(never.wait())
    # Spawned work waiting for an answer that never comes, gathered as shutdown gathers it.
    gathered = asyncio.gather(stuck)

    with caplog.at_level(logging.WARNING, logger="ocpp_core.server.shutdown"):
        await bounded("leaving the cluster", gathered, seconds=0.01)

    assert "leaving the cluster did not end within 0.01 s" in caplog.text
    await asyncio.sleep(0)  # the cancel reaches the stuck task
    assert stuck.cancelled()


async def test_a_step_that_ends_gives_its_error() -> None:
    async def fails() -> None:
        raise RuntimeError("the database refused")

    with pytest.raises(RuntimeError, match="the database refused"):
        await bounded("closing the database", fails())


async def test_a_step_that_ends_in_time_is_waited_for(caplog: pytest.LogCaptureFixture) -> None:
    ended: list[str] = []

    async def flush() -> None:
        await asyncio.sleep(0)
        ended.append("flushed")

    await bounded("writing the message log", flush())

    assert ended == ["flushed"]
    assert caplog.text == ""
