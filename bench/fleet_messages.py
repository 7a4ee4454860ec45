"""The fleet's message log: the last weeks of exchanges, oldest first, one row per exchange.

The weeks stay inside the log's default retention (30 days), so a server
started on the data set keeps them. Most rows are meter values, as on a real
network; the payloads are shaped like the chargers' and bounded like the log's.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

DAYS = 29
COLUMNS = [
    "id",
    "logged_at",
    "charge_point_id",
    "connector_id",
    "direction",
    "action",
    "payload",
    "answer",
    "error_code",
]
_ENERGY = '"measurand":"Energy.Active.Import.Register","unit":"Wh"'
_POWER = '"measurand":"Power.Active.Import","unit":"W"'


def rows(
    rng: random.Random, charge_points: list[str], count: int, now: datetime
) -> Iterator[tuple[Any, ...]]:
    """``count`` rows, evenly spread (with jitter) over the days before ``now``, in id order."""
    first = now - timedelta(days=DAYS)
    step = (now - first) / count
    for n in range(count):
        at = first + step * (n + rng.random())
        connector = rng.randrange(1, 3)
        action, payload, answer = _exchange(rng, at, connector)
        direction = "out" if action == "RemoteStartTransaction" else "in"
        cp = rng.choice(charge_points)
        yield (n + 1, at, cp, connector, direction, action, payload, answer, None)


def _exchange(rng: random.Random, at: datetime, connector: int) -> tuple[str, str, str]:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    roll = rng.random()
    if roll < 0.6:
        energy = f'{{"value":"{rng.randrange(10**6, 10**7)}",{_ENERGY}}}'
        power = f'{{"value":"{rng.randrange(3_000, 22_000)}",{_POWER}}}'
        payload = (
            f'{{"connectorId":{connector},"transactionId":{rng.randrange(1, 500_000)},'
            f'"meterValue":[{{"timestamp":"{stamp}","sampledValue":[{energy},{power}]}}]}}'
        )
        return "MeterValues", payload, "{}"
    if roll < 0.75:
        payload = f'{{"connectorId":{connector},"errorCode":"NoError","status":"Charging"}}'
        return "StatusNotification", payload, "{}"
    if roll < 0.85:
        return "Heartbeat", "{}", f'{{"currentTime":"{stamp}"}}'
    if roll < 0.95:
        accepted = '{"idTagInfo":{"status":"Accepted"}}'
        return "Authorize", f'{{"idTag":"04{rng.getrandbits(48):012X}"}}', accepted
    payload = f'{{"connectorId":{connector},"idTag":"R{rng.getrandbits(64):016X}"}}'
    return "RemoteStartTransaction", payload, '{"status":"Accepted"}'
