"""Test controls under ``/_sim/``: no auth, never part of Stripe's API.

- ``POST /_sim/faults`` ``{"method", "path", "kind": "error"|"delay", "count", "seconds"}``
  queues a fault for the next ``count`` ``/v1`` calls matching method (``*`` = any) and
  path prefix; ``GET`` lists pending faults, ``DELETE`` drops them.
- ``POST /_sim/sessions/{id}/pay`` ``{"card_number"}`` pays exactly as the hosted form
  does and answers ``{"kind", "message", "redirect_url", "payment_intent"}`` with the
  form's status (200 paid, 402 declined, 400 invalid or no longer open, 404 unknown).
- ``POST /_sim/webhooks/redeliver/{event_id}`` sends an event again (duplicate delivery).
- ``GET /_sim/deliveries`` (optionally ``?event_id=``) lists every webhook attempt.
- ``GET /_sim/calls`` (optionally ``?path=``, a prefix) lists every ``/v1`` call received,
  faulted ones included: ``{"method", "path", "idempotency_key"}``.
- ``GET /_sim/clock`` and ``POST /_sim/clock`` ``{"advance_seconds"}`` read and move the
  simulator clock; the background sweep then expires due sessions within a second.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .errors import StripeError
from .faults import Fault
from .state import StripeState
from .webhooks import WebhookDispatcher


class SimulatorControls:
    def __init__(self, state: StripeState, dispatcher: WebhookDispatcher | None) -> None:
        self._state = state
        self._dispatcher = dispatcher

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/_sim/faults", self._faults, methods=["GET", "POST", "DELETE"]),
            Route("/_sim/sessions/{id}/pay", self._pay, methods=["POST"]),
            Route("/_sim/webhooks/redeliver/{id}", self._redeliver, methods=["POST"]),
            Route("/_sim/deliveries", self._deliveries, methods=["GET"]),
            Route("/_sim/calls", self._calls, methods=["GET"]),
            Route("/_sim/clock", self._clock, methods=["GET", "POST"]),
        ]

    async def _faults(self, request: Request) -> Response:
        faults = self._state.faults
        if request.method == "DELETE":
            faults.clear()
        elif request.method == "POST":
            body = await _json_object(request)
            try:
                faults.add(Fault(**body))
            except (TypeError, ValueError) as error:
                return _problem(str(error), 400)
        return JSONResponse({"faults": [fault.to_dict() for fault in faults.pending()]})

    async def _pay(self, request: Request) -> Response:
        body = await _json_object(request)
        try:
            outcome = self._state.pay(request.path_params["id"], str(body.get("card_number", "")))
        except StripeError as error:
            return JSONResponse(error.body(), status_code=error.status)
        payload = {
            "kind": outcome.kind,
            "message": outcome.message,
            "redirect_url": outcome.redirect_url,
            "payment_intent": outcome.payment_intent,
        }
        return JSONResponse(payload, status_code=outcome.http_status)

    async def _redeliver(self, request: Request) -> Response:
        if self._dispatcher is None:
            return _problem("no webhook_url is configured", 409)
        try:
            event = self._state.event(request.path_params["id"])
        except StripeError as error:
            return JSONResponse(error.body(), status_code=error.status)
        self._dispatcher.enqueue(event)
        return JSONResponse({"event": event.id}, status_code=202)

    async def _deliveries(self, request: Request) -> Response:
        attempts = self._dispatcher.attempts if self._dispatcher else []
        wanted = request.query_params.get("event_id")
        selected = [a.to_dict() for a in attempts if wanted in (None, a.event_id)]
        return JSONResponse({"deliveries": selected})

    async def _calls(self, request: Request) -> Response:
        prefix = request.query_params.get("path", "")
        selected = [c.to_dict() for c in self._state.calls if c.path.startswith(prefix)]
        return JSONResponse({"calls": selected})

    async def _clock(self, request: Request) -> Response:
        if request.method == "POST":
            seconds = (await _json_object(request)).get("advance_seconds")
            if not isinstance(seconds, int | float) or seconds < 0:
                return _problem("advance_seconds must be a number >= 0", 400)
            self._state.advance_clock(seconds)
        return JSONResponse({"now": self._state.now()})


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _problem(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"message": message}}, status_code=status)
