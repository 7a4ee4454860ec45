"""The simulated Stripe objects, their status state machines and their wire shapes."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from typing import Final, Literal

from .errors import JsonDict

PaymentIntentStatus = Literal[
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
    "succeeded",
    "canceled",
]
SessionStatus = Literal["open", "complete", "expired"]

# Every status change goes through these tables, so a bug in an operation
# surfaces as an exception instead of an object Stripe could never produce.
_INTENT_TRANSITIONS: Final[dict[PaymentIntentStatus, frozenset[PaymentIntentStatus]]] = {
    "requires_payment_method": frozenset(
        {"requires_payment_method", "requires_capture", "succeeded", "canceled"}
    ),
    "requires_confirmation": frozenset(
        {"requires_payment_method", "requires_action", "requires_capture", "succeeded", "canceled"}
    ),
    "requires_action": frozenset(
        {"requires_payment_method", "requires_capture", "succeeded", "canceled"}
    ),
    "processing": frozenset({"requires_payment_method", "succeeded", "canceled"}),
    "requires_capture": frozenset({"succeeded", "canceled"}),
    "succeeded": frozenset(),
    "canceled": frozenset(),
}
_SESSION_TRANSITIONS: Final[dict[SessionStatus, frozenset[SessionStatus]]] = {
    "open": frozenset({"complete", "expired"}),
    "complete": frozenset(),
    "expired": frozenset(),
}
_ALPHABET: Final = string.ascii_letters + string.digits


class IllegalTransition(RuntimeError):
    """A status change the object's state machine forbids: always a simulator bug."""


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass(kw_only=True)
class LineItem:
    name: str
    unit_amount: int
    quantity: int


@dataclass(kw_only=True)
class PaymentIntent:
    id: str
    amount: int
    currency: str
    capture_method: str
    metadata: dict[str, str]
    description: str | None
    created: int
    status: PaymentIntentStatus = "requires_payment_method"
    amount_capturable: int = 0
    amount_received: int = 0
    latest_charge: str | None = None
    payment_method: str | None = None
    last_payment_error: JsonDict | None = None
    canceled_at: int | None = None
    cancellation_reason: str | None = None
    client_secret: str = field(default_factory=lambda: new_id("secret_"))

    def move_to(self, status: PaymentIntentStatus) -> None:
        if status not in _INTENT_TRANSITIONS[self.status]:
            raise IllegalTransition(f"payment intent {self.id}: {self.status} -> {status}")
        self.status = status

    def authorize(self, charge_id: str, payment_method: str) -> None:
        """The card was accepted: a hold for manual capture, a payment otherwise."""
        manual = self.capture_method == "manual"
        self.move_to("requires_capture" if manual else "succeeded")
        self.amount_capturable = self.amount if manual else 0
        self.amount_received = 0 if manual else self.amount
        self.latest_charge, self.payment_method = charge_id, payment_method
        self.last_payment_error = None

    def decline(self, charge_id: str, payment_method: str, error: JsonDict) -> None:
        self.move_to("requires_payment_method")
        self.latest_charge, self.payment_method = charge_id, None
        self.last_payment_error = error | {"charge": charge_id, "payment_method": payment_method}

    def capture(self, amount: int) -> None:
        """Whatever is not captured is released, as Stripe does for a partial capture."""
        self.move_to("succeeded")
        self.amount_received, self.amount_capturable = amount, 0

    def cancel(self, now: int, reason: str | None) -> None:
        self.move_to("canceled")
        self.amount_capturable = 0
        self.canceled_at, self.cancellation_reason = now, reason

    def to_dict(self) -> JsonDict:
        return {
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": self.amount_capturable,
            "amount_received": self.amount_received,
            "canceled_at": self.canceled_at,
            "cancellation_reason": self.cancellation_reason,
            "capture_method": self.capture_method,
            "client_secret": f"{self.id}_{self.client_secret}",
            "confirmation_method": "automatic",
            "created": self.created,
            "currency": self.currency,
            "customer": None,
            "description": self.description,
            "last_payment_error": self.last_payment_error,
            "latest_charge": self.latest_charge,
            "livemode": False,
            "metadata": dict(self.metadata),
            "next_action": None,
            "payment_method": self.payment_method,
            "payment_method_types": ["card"],
            "status": self.status,
        }


@dataclass(kw_only=True)
class CheckoutSession:
    id: str
    url: str
    created: int
    expires_at: int
    currency: str
    line_items: list[LineItem]
    success_url: str
    cancel_url: str | None
    metadata: dict[str, str]
    intent_data: JsonDict
    client_reference_id: str | None = None
    customer_email: str | None = None
    locale: str | None = None
    payment_method_types: list[str] = field(default_factory=lambda: ["card"])
    status: SessionStatus = "open"
    payment_status: Literal["paid", "unpaid"] = "unpaid"
    payment_intent: str | None = None
    customer_details: JsonDict | None = None

    @property
    def amount_total(self) -> int:
        return sum(item.unit_amount * item.quantity for item in self.line_items)

    @property
    def capture_method(self) -> str:
        method: str = self.intent_data.get("capture_method", "automatic")
        return method

    def move_to(self, status: SessionStatus) -> None:
        if status not in _SESSION_TRANSITIONS[self.status]:
            raise IllegalTransition(f"checkout session {self.id}: {self.status} -> {status}")
        self.status = status

    def complete(self, paid: bool) -> None:
        """Manual capture leaves ``payment_status`` unpaid: the money is only on hold."""
        self.move_to("complete")
        self.payment_status = "paid" if paid else "unpaid"
        self.customer_details = {
            "email": self.customer_email or "driver@example.com",
            "name": None,
            "phone": None,
            "address": None,
            "tax_exempt": "none",
            "tax_ids": [],
        }

    def to_dict(self, payment_intent: JsonDict | None = None) -> JsonDict:
        """``payment_intent`` is the expanded object when the caller asked for it."""
        return {
            "id": self.id,
            "object": "checkout.session",
            "amount_subtotal": self.amount_total,
            "amount_total": self.amount_total,
            "cancel_url": self.cancel_url,
            "client_reference_id": self.client_reference_id,
            "created": self.created,
            "currency": self.currency,
            "customer": None,
            "customer_details": self.customer_details,
            "customer_email": self.customer_email,
            "expires_at": self.expires_at,
            "livemode": False,
            "locale": self.locale,
            "metadata": dict(self.metadata),
            "mode": "payment",
            "payment_intent": payment_intent or self.payment_intent,
            "payment_method_types": list(self.payment_method_types),
            "payment_status": self.payment_status,
            "status": self.status,
            "success_url": self.success_url,
            "ui_mode": "hosted",
            "url": self.url if self.status == "open" else None,
        }


@dataclass(frozen=True, kw_only=True)
class Event:
    id: str
    type: str
    created: int
    object_id: str
    data: JsonDict
    api_version: str
    pending_webhooks: int

    def to_dict(self) -> JsonDict:
        return {
            "id": self.id,
            "object": "event",
            "api_version": self.api_version,
            "created": self.created,
            "data": {"object": self.data},
            "livemode": False,
            "pending_webhooks": self.pending_webhooks,
            "request": {"id": None, "idempotency_key": None},
            "type": self.type,
        }
