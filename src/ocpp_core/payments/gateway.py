"""The one door to Stripe: Checkout Sessions and PaymentIntents through the official SDK.

Every write carries a deterministic idempotency key derived from the
reservation, so a retry after a timeout or a crash can never create a second
session, a second capture or a second cancel. Errors come out as
:class:`GatewayError`, which says whether trying again later can help.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

import orjson
import stripe
from stripe.params import PaymentIntentCaptureParams
from stripe.params.checkout import SessionCreateParams, SessionRetrieveParams

from ocpp_core.config import StripeSettings
from ocpp_core.payments.stripe_http import http_client

_TRANSIENT_STATUS = frozenset({408, 409, 429})
_SESSIONS = "/v1/checkout/sessions"
_INTENTS = "/v1/payment_intents"


class GatewayError(Exception):
    def __init__(self, message: str, *, transient: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.code = code


class InvalidSignature(Exception):
    """A webhook whose Stripe-Signature does not verify."""


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    reservation_id: str
    amount_cents: int
    currency: str
    product_name: str
    success_url: str
    cancel_url: str
    expires_at: datetime
    metadata: dict[str, str]


@dataclass(frozen=True, slots=True)
class Intent:
    id: str
    status: str
    amount: int
    amount_capturable: int
    amount_received: int


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    id: str
    url: str | None
    status: str  # open | complete | expired
    payment_intent_id: str | None
    intent: Intent | None = None  # only when asked for ``with_intent``


class StripeGateway:
    def __init__(self, settings: StripeSettings) -> None:
        self._settings = settings
        self._http = http_client(settings.api_base, settings.timeout)
        self._client = stripe.StripeClient(
            api_key=settings.api_key.get_secret_value(),
            base_addresses={"api": settings.api_base},
            http_client=self._http,
            max_network_retries=0,  # retries are ours, spaced by the sweeps
        )

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]  # untyped in the SDK

    async def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency,
                        "unit_amount": request.amount_cents,
                        "product_data": {"name": request.product_name},
                    },
                }
            ],
            "payment_intent_data": {"capture_method": "manual", "metadata": request.metadata},
            "metadata": request.metadata,
            "client_reference_id": request.reservation_id,
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "expires_at": int(request.expires_at.timestamp()),
        }
        key = f"checkout:{request.reservation_id}"
        return _session(await self._call("post", _SESSIONS, idempotency_key=key, **params))

    async def checkout_session(
        self, session_id: str, *, with_intent: bool = False
    ) -> CheckoutSession:
        """The session; ``with_intent`` expands its PaymentIntent: one request instead of two."""
        params: SessionRetrieveParams = {"expand": ["payment_intent"]} if with_intent else {}
        return _session(await self._call("get", f"{_SESSIONS}/{_id(session_id)}", **params))

    async def expire_checkout(self, session_id: str, reservation_id: str) -> CheckoutSession:
        url, key = f"{_SESSIONS}/{_id(session_id)}/expire", f"expire:{reservation_id}"
        return _session(await self._call("post", url, idempotency_key=key))

    async def close_checkout(self, session_id: str, reservation_id: str) -> CheckoutSession:
        """The session once it can no longer take a card: ``expired``, or ``complete`` if paid.

        An expiry Stripe refuses (the driver paid a moment before) is read again,
        so a payment that won the race is reported, not mistaken for an error.
        """
        session = await self.checkout_session(session_id)
        if session.status != "open":
            return session
        try:
            return await self.expire_checkout(session_id, reservation_id)
        except GatewayError as error:
            if error.transient:
                raise
            return await self.checkout_session(session_id)

    async def payment_intent(self, intent_id: str) -> Intent:
        return _intent(await self._call("get", f"{_INTENTS}/{_id(intent_id)}"))

    async def capture(self, intent_id: str, amount_cents: int, reservation_id: str) -> Intent:
        params: PaymentIntentCaptureParams = {"amount_to_capture": amount_cents}
        url = f"{_INTENTS}/{_id(intent_id)}/capture"
        key = f"capture:{reservation_id}:{amount_cents}"
        return _intent(await self._call("post", url, idempotency_key=key, **params))

    async def cancel(self, intent_id: str, reservation_id: str) -> Intent:
        url, key = f"{_INTENTS}/{_id(intent_id)}/cancel", f"cancel:{reservation_id}"
        return _intent(await self._call("post", url, idempotency_key=key))

    def verify_event(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The event as plain data, once its signature checked out."""
        secret = self._settings.webhook_secret.get_secret_value()
        try:
            # Stripe's tolerance: a signature older than five minutes is a replay.
            stripe.WebhookSignature.verify_header(
                payload.decode(), signature or "", secret, stripe.Webhook.DEFAULT_TOLERANCE
            )
            event: dict[str, Any] = orjson.loads(payload)
        except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError) as error:
            raise InvalidSignature(str(error)) from None
        if not isinstance(event, dict) or "id" not in event or "type" not in event:
            raise InvalidSignature("not a Stripe event")
        return event

    async def _call(self, method: str, url: str, **params: Any) -> dict[str, Any]:
        """The SDK's request (auth, encoding, errors, idempotency key) as plain data.

        Its resource methods also build a StripeObject tree of every field of the
        answer, of which we read a handful: a fifth of a paid session's Stripe cost.
        """
        try:
            response = await self._client.raw_request_async(method, url, **params)
        except stripe.StripeError as error:
            raise _gateway_error(error) from error
        data: dict[str, Any] = response.data
        return data


def _gateway_error(error: stripe.StripeError) -> GatewayError:
    status = error.http_status
    transient = (
        isinstance(error, stripe.APIConnectionError | stripe.RateLimitError)
        or status is None
        or status >= 500
        or status in _TRANSIENT_STATUS
    )
    message = error.user_message or type(error).__name__
    return GatewayError(f"Stripe: {message}", transient=transient, code=error.code)


def _id(object_id: str) -> str:
    # As the SDK's resource methods put an id in a path: nothing in it can change the path.
    return quote_plus(object_id)


def _session(session: dict[str, Any]) -> CheckoutSession:
    intent = session.get("payment_intent")
    known = session["id"], session.get("url"), session["status"]
    if isinstance(intent, str) or intent is None:
        return CheckoutSession(*known, intent)
    return CheckoutSession(*known, intent["id"], _intent(intent))


def _intent(intent: dict[str, Any]) -> Intent:
    return Intent(
        intent["id"],
        intent["status"],
        intent["amount"],
        intent["amount_capturable"],
        intent["amount_received"],
    )
