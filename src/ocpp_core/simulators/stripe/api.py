"""The ``/v1`` routes: auth, fault injection, parameter checks and idempotency around each call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from . import params as schemas
from .calls import ApiCall
from .errors import JsonDict, StripeError, api_error
from .idempotency import StoredResponse
from .models import new_id
from .params import RawValue, Schema, decode_form, expansions, validate
from .state import StripeState

Operation = Callable[[JsonDict, str], JsonDict]

_TEST_KEY_PREFIXES: Final = ("sk_test_", "rk_test_")
_NO_KEY: Final = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
_NOTHING: Final = frozenset[str]()
_SESSION_EXPANSIONS: Final = frozenset({"payment_intent"})


class StripeApi:
    def __init__(self, state: StripeState) -> None:
        self._state = state

    def routes(self) -> list[BaseRoute]:
        def route(path: str, method: str, schema: Schema, operation: Operation) -> Route:
            async def endpoint(request: Request) -> Response:
                return await self._handle(request, schema, operation)

            return Route(path, endpoint, methods=[method])

        sessions, intents = "/v1/checkout/sessions", "/v1/payment_intents"
        return [
            route(sessions, "POST", schemas.SESSION_CREATE, self._create_session),
            route(sessions + "/{id}", "GET", schemas.EXPAND_ONLY, self._retrieve_session),
            route(sessions + "/{id}/expire", "POST", schemas.EXPAND_ONLY, self._expire_session),
            route(intents + "/{id}", "GET", schemas.PI_RETRIEVE, self._retrieve_intent),
            route(intents + "/{id}/capture", "POST", schemas.PI_CAPTURE, self._capture),
            route(intents + "/{id}/cancel", "POST", schemas.PI_CANCEL, self._cancel),
            route("/v1/events/{id}", "GET", schemas.EXPAND_ONLY, self._retrieve_event),
            route("/v1/events", "GET", schemas.EVENTS_LIST, self._list_events),
            Route("/v1/{rest:path}", _unrecognized, methods=["GET", "POST", "DELETE"]),
        ]

    async def _handle(self, request: Request, schema: Schema, operation: Operation) -> Response:
        # The body is read first so a delayed request still runs after its client gave up,
        # like a Stripe call that succeeded but whose answer was lost.
        encoded = (await request.body()).decode() if request.method == "POST" else request.url.query
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        self._state.calls.append(ApiCall(request.method, request.url.path, key))
        fault = self._state.faults.take(request.method, request.url.path)
        if fault is not None and fault.kind == "error":
            return _respond(api_error("Simulated failure injected through /_sim/faults."))
        if fault is not None:
            await asyncio.sleep(fault.seconds)
        endpoint = f"{request.method} {request.url.path}"
        # Nothing from here on awaits: lookup, execution and storing are one step.
        try:
            _authenticate(request)
            raw = decode_form(encoded)
            stored = self._state.idempotency.lookup(key, endpoint, raw) if key else None
        except StripeError as error:
            return _respond(error, key)
        if stored is not None:
            return _json(stored.status, stored.body, key, replayed=True)
        status, body, replayable = _execute(operation, raw, schema, request.path_params)
        if key and replayable:
            stored = StoredResponse(endpoint=endpoint, params=raw, status=status, body=body)
            self._state.idempotency.remember(key, stored)
        return _json(status, body, key)

    def _create_session(self, params: JsonDict, _: str) -> JsonDict:
        expand = expansions(params, _SESSION_EXPANSIONS)
        return self._state.session_body(self._state.create_session(params), expand)

    def _retrieve_session(self, params: JsonDict, session_id: str) -> JsonDict:
        expand = expansions(params, _SESSION_EXPANSIONS)
        return self._state.session_body(self._state.session(session_id), expand)

    def _expire_session(self, params: JsonDict, session_id: str) -> JsonDict:
        expand = expansions(params, _SESSION_EXPANSIONS)
        return self._state.session_body(self._state.expire_session(session_id), expand)

    def _retrieve_intent(self, params: JsonDict, intent_id: str) -> JsonDict:
        expansions(params, _NOTHING)
        return self._state.intent(intent_id).to_dict()

    def _capture(self, params: JsonDict, intent_id: str) -> JsonDict:
        expansions(params, _NOTHING)
        amount = params.get("amount_to_capture")
        return self._state.capture(intent_id, amount, params.get("metadata")).to_dict()

    def _cancel(self, params: JsonDict, intent_id: str) -> JsonDict:
        expansions(params, _NOTHING)
        return self._state.cancel(intent_id, params.get("cancellation_reason")).to_dict()

    def _retrieve_event(self, params: JsonDict, event_id: str) -> JsonDict:
        expansions(params, _NOTHING)
        return self._state.event(event_id).to_dict()

    def _list_events(self, params: JsonDict, _: str) -> JsonDict:
        """Newest first, paginated by event id, as Stripe lists."""
        expansions(params, _NOTHING)
        limit = params.get("limit", 10)
        if not 1 <= limit <= 100:
            raise StripeError("Limit must be between 1 and 100.", param="limit", replayable=False)
        wanted = params.get("type")
        events = [e for e in reversed(self._state.events) if wanted in (None, e.type)]
        if "starting_after" in params:
            after = self._state.event(params["starting_after"])
            events = events[events.index(after) + 1 :] if after in events else []
        return {
            "object": "list",
            "data": [event.to_dict() for event in events[:limit]],
            "has_more": len(events) > limit,
            "url": "/v1/events",
        }


def _execute(
    operation: Operation, raw: dict[str, RawValue], schema: Schema, path: dict[str, str]
) -> tuple[int, JsonDict, bool]:
    """Status, body, and whether Stripe would store the answer under the idempotency key."""
    try:
        return 200, operation(validate(raw, schema), path.get("id", "")), True
    except StripeError as error:
        return error.status, error.body(), error.replayable


def _authenticate(request: Request) -> None:
    """Any test-mode key works; a live key never does, so production keys stay out of demos."""
    scheme, _, api_key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not api_key:
        raise StripeError(_NO_KEY, status=401, replayable=False)
    if not api_key.startswith(_TEST_KEY_PREFIXES):
        raise StripeError(
            f"Invalid API Key provided: {api_key[:8]}{'*' * 4}{api_key[-4:]}",
            status=401,
            replayable=False,
        )


async def _unrecognized(request: Request) -> Response:
    return _respond(
        StripeError(
            f"Unrecognized request URL ({request.method}: {request.url.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            status=404,
        )
    )


def _respond(error: StripeError, key: str | None = None) -> Response:
    return _json(error.status, error.body(), key)


def _json(status: int, body: JsonDict, key: str | None, *, replayed: bool = False) -> Response:
    headers = {"Request-Id": new_id("req_", 14)}
    if key:
        headers["Idempotency-Key"] = key
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status_code=status, headers=headers)
