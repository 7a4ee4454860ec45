"""``/API/Payments/*``: the pay-by-QR flow, and the Stripe webhook (which has no API key)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Receive, Scope, Send

from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.domain.pricing import MAX_HOLD_CENTS
from ocpp_core.payments import decisions, flows, status, webhooks
from ocpp_core.payments.context import PaymentContext
from ocpp_core.payments.review import Decision
from ocpp_core.server.api_auth import ApiError, api_router, database_unavailable

router = api_router("payments")


async def get_payments(request: Request) -> PaymentContext:
    # async: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop per request.
    payments: PaymentContext = request.app.state.payments
    return payments


Payments = Annotated[PaymentContext, Depends(get_payments)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CreateBody(_Body):
    charge_point_id: str = Field(alias="chargePointId", min_length=1, max_length=100)
    connector_id: int = Field(default=1, alias="connectorId", ge=1, le=1000)
    charge_tag_id: str = Field(alias="chargeTagId", min_length=1, max_length=50)
    origin: str | None = Field(default=None, max_length=20)
    return_base_url: str | None = Field(
        default=None, alias="returnBaseUrl", pattern=r"^https?://", max_length=500
    )
    # The caller's id for the driver: their earlier unpaid reservation is replaced.
    driver_key: str | None = Field(default=None, alias="driverKey", min_length=1, max_length=64)


class ConfirmBody(_Body):
    reservation_id: str = Field(alias="reservationId", min_length=1, max_length=36)
    checkout_session_id: str = Field(alias="checkoutSessionId", min_length=1, max_length=200)


class ReservationBody(_Body):
    reservation_id: str = Field(alias="reservationId", min_length=1, max_length=36)
    reason: str | None = Field(default=None, max_length=200)


class ReviewBody(_Body):
    reservation_id: str = Field(alias="reservationId", min_length=1, max_length=36)
    action: Literal["capture", "release"]
    amount_cents: int | None = Field(default=None, alias="amountCents", le=MAX_HOLD_CENTS)
    decided_by: str = Field(alias="decidedBy", min_length=1, max_length=100)


def _answer(answer: flows.Answer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.http_status)


@router.post("/Payments/Create")
async def create(payments: Payments, body: CreateBody) -> JSONResponse:
    """Start a session: free ones start at once, paid ones get a Checkout URL."""
    request = flows.CreateRequest(
        body.charge_point_id,
        body.connector_id,
        body.charge_tag_id,
        body.origin,
        body.return_base_url,
        body.driver_key,
    )
    return _answer(await flows.create(payments, request))


@router.post("/Payments/Confirm")
async def confirm(payments: Payments, body: ConfirmBody) -> JSONResponse:
    """After Stripe's redirect: check the hold and start the charger."""
    return _answer(await flows.confirm(payments, body.reservation_id, body.checkout_session_id))


@router.post("/Payments/Cancel")
async def cancel(payments: Payments, body: ReservationBody) -> JSONResponse:
    """Cancel a reservation that has not started charging; its hold is released."""
    return _answer(await flows.cancel(payments, body.reservation_id, body.reason))


@router.post("/Payments/Stop")
async def stop(payments: Payments, body: ReservationBody) -> JSONResponse:
    """Stop the session (or cancel it if it never started)."""
    return _answer(await flows.stop(payments, body.reservation_id))


@router.post("/Payments/Resume")
async def resume(payments: Payments, body: ReservationBody) -> JSONResponse:
    """Where a driver who comes back should go: the open checkout, or the status page."""
    return _answer(await flows.resume(payments, body.reservation_id))


@router.post("/Payments/Review")
async def review(payments: Payments, body: ReviewBody) -> JSONResponse:
    """Decide a reservation under review: capture an amount up to the hold, or release it."""
    request = decisions.Request(
        body.reservation_id,
        Decision.CAPTURE if body.action == "capture" else Decision.RELEASE,
        body.amount_cents if body.action == "capture" else None,
        body.decided_by,
    )
    return _answer(await decisions.decide(payments, request))


@router.get("/Payments/Status")
async def payment_status(
    payments: Payments, reservation_id: Annotated[str, Query(alias="reservationId", max_length=36)]
) -> dict[str, Any]:
    """Stage, live power and energy, cost so far, and at the end the receipt."""
    view = await status.view(payments, reservation_id)
    if view is None:
        raise ApiError(404, "NotFound", error=f"no reservation {reservation_id}")
    return view


# Verified by its Stripe-Signature, not by the API key: Stripe can't send one.
WEBHOOK_PATHS = frozenset({"/API/Payments/Webhook", "/Payments/Webhook"})


class Webhook:
    """The Stripe webhook as a bare ASGI app, which the server hands its paths to first.

    Stripe sends three events for each paid session; FastAPI's routing, dependency
    solving and request handling cost about as much as verifying and answering an
    event we don't act on. Answers in the API's shape, a database that can't be
    reached included (503).
    """

    def __init__(self, payments: PaymentContext) -> None:
        self.payments = payments

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method == "POST":
            response = await self._handle(request)
        else:
            error = f"{request.method} {request.url.path}"
            response = _answer(flows.Answer(405, {"status": "MethodNotAllowed", "error": error}))
        await response(scope, receive, send)

    async def _handle(self, request: Request) -> Response:
        signature = request.headers.get("stripe-signature")
        try:
            return _answer(await webhooks.handle(self.payments, await request.body(), signature))
        except DatabaseUnavailable as error:
            return await database_unavailable(request, error)
