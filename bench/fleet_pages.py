"""The heavy pages of the management app on the fleet, as an operator opens them: one list.

The fleet bench times each of these, and its test asks each once. A deep page is
one far from the newest rows, asked for by the page key its list writes (the
time in microseconds and the id): a list paged by offset would pay for the depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bench.fleet_messages import DAYS as LOG_DAYS
from bench.fleet_rows import YEAR_DAYS, charge_point_id

BASELINE = "(no page: the baseline)"  # the row of heartbeats with no page asked for


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    export: bool = False  # a file: the server's memory is watched while it is made


def pages(now: datetime) -> list[Page]:
    """The pages, for a data set that ends at ``now`` (see ``bench.fleet``)."""
    year = f"since={(now - timedelta(days=YEAR_DAYS - 1)).date()}&until={now.date()}"
    early = _micros(now - timedelta(days=YEAR_DAYS - 30))
    log_cursor = f"{_micros(now - timedelta(days=LOG_DAYS / 2))}_{10**15}"
    cp = charge_point_id(0)
    return [
        Page("dashboard", "/"),
        Page("dashboard live fragment", "/Home/Tiles"),
        Page("charge points", "/Home/ChargePoint"),
        Page("charge points, search", f"/Home/ChargePoint?q={cp[:-2]}"),
        Page("connectors", "/Home/Connector"),
        Page("tags", "/Home/ChargeTag"),
        Page("transactions", "/Home/Transactions"),
        Page("transactions, deep", f"/Home/Transactions?before={early}_{2**31 - 1}"),
        Page("payments", "/Home/Payments"),
        Page("payments, deep", f"/Home/Payments?before={early}_~"),
        Page("message log", "/Home/MessageLog"),
        Page("message log, deep", f"/Home/MessageLog?before={log_cursor}"),
        Page("charts, a year", f"/Home/Charts?{year}"),
        Page("reports, a year", f"/Home/Reports?{year}"),
        Page("CSV export, a year", f"/Home/Export?{year}", export=True),
        Page("XLSX export, a year", f"/Home/ExportXlsx?{year}", export=True),
        Page("driver page", f"/Public/Start?cp={cp}&conn=1"),
    ]


def _micros(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)
