"""The operator pages beyond the dashboard, registered on the management app in one call."""

from __future__ import annotations

from fastapi import FastAPI

from ocpp_core.management import (
    chargepoints,
    connectors,
    device_model,
    firmware,
    local_list,
    messagelog,
    payments_admin,
    pickers,
    profiles,
    qr_labels,
    report_charts,
    reports,
    reservations,
    reviews,
    tags,
    transaction_exports,
    transactions,
)
from ocpp_core.shared_routes import add_routes

ROUTERS = (
    chargepoints.router,
    qr_labels.router,
    device_model.router,
    firmware.router,
    profiles.router,
    local_list.router,  # issue 14: local authorization lists
    connectors.router,
    tags.router,
    transactions.router,
    transaction_exports.router,
    reports.router,
    report_charts.router,
    payments_admin.router,
    reservations.router,
    reviews.router,
    messagelog.router,
    pickers.router,
)


def install(app: FastAPI) -> None:
    add_routes(app, *ROUTERS)
