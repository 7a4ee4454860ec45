"""The charts' and the charge report's figures as JSON and back, for :mod:`report_snapshots`.

Only what the pages read is kept, and every amount stays an integer: JSON
numbers are read back by Python as ``int`` however large, so cents and Wh
come back exact. Dates and times travel as ISO 8601 text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from ocpp_core.domain.reporting import (
    Amounts,
    ChargeReport,
    ConnectorSums,
    ConnectorUse,
    GroupLine,
    PeriodSums,
    Ranking,
    ReviewLine,
    TagLine,
    Tally,
    Utilisation,
)

T = TypeVar("T")
Json = Any  # what json.loads returns: checked field by field as it is read


@dataclass(frozen=True, slots=True)
class Codec(Generic[T]):
    """How one kind of figures is written as JSON and read back."""

    kind: str  # the snapshot's kind, also part of its key
    encode: Callable[[T], Json]
    decode: Callable[[Json], T]


@dataclass(frozen=True, slots=True)
class ChartSums:
    """The charts' two statements' results."""

    over_time: PeriodSums
    connectors: ConnectorSums


def _cents(value: Json) -> dict[str, int]:
    return {str(code): int(cents) for code, cents in value.items()}


def _ranking_json(ranking: Ranking) -> Json:
    return {"top": ranking.top, "rest_count": ranking.rest_count, "rest_value": ranking.rest_value}


def _ranking(value: Json) -> Ranking:
    top = [(str(name), int(amount)) for name, amount in value["top"]]
    return Ranking(top, int(value["rest_count"]), int(value["rest_value"]))


def _use_json(use: Utilisation | None) -> Json:
    if use is None:
        return None
    top = [
        [one.charge_point_id, one.connector_id, one.name, one.busy_seconds, one.period_seconds]
        for one in use.top
    ]
    return {
        "top": top,
        "rest_count": use.rest_count,
        "rest_busy_seconds": use.rest_busy_seconds,
        "period_seconds": use.period_seconds,
    }


def _use(value: Json) -> Utilisation | None:
    if value is None:
        return None
    top = [
        ConnectorUse(str(cp), int(number), None if name is None else str(name), int(busy), int(of))
        for cp, number, name, busy, of in value["top"]
    ]
    return Utilisation(
        top, int(value["rest_count"]), int(value["rest_busy_seconds"]), int(value["period_seconds"])
    )


def _charts_json(sums: ChartSums) -> Json:
    series = [
        [bar.label.isoformat(), bar.energy_wh, bar.revenue_cents] for bar in sums.over_time.series
    ]
    return {
        "series": series,
        "revenue": {code: _ranking_json(r) for code, r in sums.over_time.revenue_cents.items()},
        "energy": _ranking_json(sums.connectors.energy_wh),
        "use": _use_json(sums.connectors.use),
    }


def _charts(value: Json) -> ChartSums:
    series = [
        Amounts(date.fromisoformat(label), int(wh), _cents(cents))
        for label, wh, cents in value["series"]
    ]
    revenue = {str(code): _ranking(r) for code, r in value["revenue"].items()}
    return ChartSums(
        PeriodSums(series, revenue),
        ConnectorSums(_ranking(value["energy"]), _use(value["use"])),
    )


def _tally_json(tally: Tally) -> Json:
    return [
        tally.sessions,
        tally.energy_wh,
        tally.under_review,
        tally.running,
        tally.revenue_cents,
    ]


def _tally(value: Json) -> Tally:
    sessions, wh, review, running, cents = value
    return Tally(int(sessions), int(wh), int(review), int(running), _cents(cents))


def _report_json(report: ChargeReport) -> Json:
    groups = [
        {
            "id": group.group_id,
            "tally": _tally_json(group.tally),
            "tags": [[line.tag_id, line.name, _tally_json(line.tally)] for line in group.tags],
        }
        for group in report.groups
    ]
    review = [
        [
            line.transaction_id,
            line.charge_point_id,
            line.connector_id,
            line.start_at.isoformat(),
            line.review_reason,
        ]
        for line in report.under_review
    ]
    return {"groups": groups, "total": _tally_json(report.total), "review": review}


def _text(value: Json) -> str | None:
    return None if value is None else str(value)


def _report(value: Json) -> ChargeReport:
    groups = [
        GroupLine(
            _text(group["id"]),
            [TagLine(_text(tag), _text(name), _tally(t)) for tag, name, t in group["tags"]],
            _tally(group["tally"]),
        )
        for group in value["groups"]
    ]
    review = [
        ReviewLine(int(tx), str(cp), int(number), datetime.fromisoformat(start), str(reason))
        for tx, cp, number, start, reason in value["review"]
    ]
    return ChargeReport(groups, _tally(value["total"]), review)


CHARTS: Codec[ChartSums] = Codec("charts", _charts_json, _charts)
REPORT: Codec[ChargeReport] = Codec("report", _report_json, _report)
