"""Keep-alive pings are spread out, so chargers that connected together are not pinged together."""

from __future__ import annotations

import asyncio
import statistics

from ocpp_core.ocpp.tls import ClientCertWebSocketProtocol

INTERVAL = 30.0


def _protocol(loop: asyncio.AbstractEventLoop) -> ClientCertWebSocketProtocol:
    """Just the keep-alive state of a protocol; the rest needs a live transport."""
    protocol = ClientCertWebSocketProtocol.__new__(ClientCertWebSocketProtocol)
    protocol.loop = loop
    protocol.ping_interval = INTERVAL
    protocol.last_ping_rtt = 0.0
    protocol.ping_timer = None
    return protocol


def _delays(loop: asyncio.AbstractEventLoop, arm: str) -> list[float]:
    delays = []
    for _ in range(1000):
        protocol = _protocol(loop)
        getattr(protocol, arm)()
        assert protocol.ping_timer is not None
        delays.append(protocol.ping_timer.when() - loop.time())
        protocol.ping_timer.cancel()
    return delays


async def test_the_first_pings_of_a_storm_spread_over_the_interval() -> None:
    delays = _delays(asyncio.get_running_loop(), "start_keepalive")
    assert min(delays) >= 0.1 * INTERVAL - 0.01
    assert max(delays) <= INTERVAL + 0.01
    # Spread across the interval, not bunched: a uniform spread has a wide deviation.
    assert statistics.pstdev(delays) > 0.2 * INTERVAL
    assert len({round(d, 1) for d in delays}) > 200


async def test_later_pings_stay_within_ten_percent_of_the_interval() -> None:
    delays = _delays(asyncio.get_running_loop(), "schedule_ping")
    assert min(delays) >= 0.9 * INTERVAL - 0.01
    assert max(delays) <= 1.1 * INTERVAL + 0.01
    assert max(delays) - min(delays) > 0.1 * INTERVAL
