"""``ocpp-core demo`` as a newcomer runs it: every part comes up and the chargers charge."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from ocpp_core.cli import main
from servers import listening_socket


def free_ports(count: int) -> list[int]:
    sockets = [listening_socket()[0] for _ in range(count)]
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_the_demo_runs_everything_and_prints_where_to_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    server, management, stripe = free_ports(3)
    args = ["demo", "--duration", "4", "--port", str(server)]
    args += ["--management-port", str(management), "--stripe-port", str(stripe)]

    result = CliRunner().invoke(main, args, catch_exceptions=False)

    assert result.exit_code == 0, result.output
    output = result.output
    assert f"http://127.0.0.1:{management}/cp/DEMO-0001/1" in output
    assert re.search(r"user admin, password \S{12,}", output)
    for charger in ("DEMO-0001", "DEMO-0002", "DEMO-0003"):
        assert f"card session on {charger} connector 2: Accepted" in output
    assert "OCPP 1.6 and 2.0.1 in turn" in output
    assert re.search(r"DEMO-0001\s+2 Charging", output)  # OCPP 1.6
    assert re.search(r"DEMO-0002\s+2 Charging", output)  # OCPP 2.0.1
    labels = tmp_path / "ocpp-core-demo-labels.pdf"
    assert labels.read_bytes().startswith(b"%PDF")
    assert (tmp_path / "ocpp-core-demo.sqlite").is_file()


async def test_a_demo_login_reaches_the_dashboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ocpp_core.demo import Ports, run_demo

    monkeypatch.chdir(tmp_path)
    ports = Ports(*free_ports(3))
    demo = asyncio.create_task(run_demo(ports, 1, 20))
    base = f"http://127.0.0.1:{ports.management}"
    async with httpx.AsyncClient(base_url=base) as client:
        async with asyncio.timeout(20):
            while True:
                try:
                    page = await client.get("/Account/Login")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
        assert page.status_code == 200
        public = await client.get("/cp/DEMO-0001/1", follow_redirects=True)
        assert public.status_code == 200
    demo.cancel()
    await asyncio.gather(demo, return_exceptions=True)
