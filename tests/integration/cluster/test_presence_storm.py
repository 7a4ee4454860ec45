"""A storm of chargers on one node: each connect writes its presence to Redis at the same moment.

Past the node's Redis connections those writes wait their turn; refused, they would
leave the chargers offline to the other nodes until the next refresh.
"""

from __future__ import annotations

import asyncio

import pytest

from cluster_harness import in_process_node
from ocpp_core.cluster.node import REDIS_CONNECTIONS
from ocpp_core.cluster.presence import Holder
from ocpp_core.config import Settings

pytestmark = pytest.mark.postgresql

STORM = 8 * REDIS_CONNECTIONS


async def test_more_presence_writes_at_once_than_connections_all_land(
    prefix: str, settings: Settings
) -> None:
    async with asyncio.timeout(60), in_process_node(settings, "a", prefix) as node:
        cluster = node.runtime.cluster
        assert cluster is not None
        holders = {f"STORM-{n}": Holder(cluster.node_id, "ocpp1.6", f"t{n}") for n in range(STORM)}
        taken = await asyncio.gather(
            *(cluster.presence.connected(cp, holder) for cp, holder in holders.items())
        )
        assert taken == [None] * STORM  # none held elsewhere before
        online = await cluster.presence.online()
        assert {cp: online.get(cp) for cp in holders} == holders
