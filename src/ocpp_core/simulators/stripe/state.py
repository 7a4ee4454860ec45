"""Everything the simulator remembers, in one object, and the operations that change it.

Operations are synchronous: each API call runs to completion without yielding
to the event loop, so two concurrent requests can never interleave halfway
through a status change (Stripe serialises requests per object too).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Final

import stripe

from .calls import ApiCall
from .checkout import (
    DECLINED_CARDS,
    INVALID_CARD_MESSAGE,
    SUCCESS_CARD,
    PaymentOutcome,
    build_session,
    card_digits,
    decline_error,
)
from .errors import JsonDict, StripeError, invalid_param, no_such
from .faults import FaultPlan
from .idempotency import IdempotencyStore
from .models import CheckoutSession, Event, PaymentIntent, PaymentIntentStatus, new_id

EventListener = Callable[[Event], None]

CANCELABLE: Final[frozenset[PaymentIntentStatus]] = frozenset(
    {"requires_payment_method", "requires_capture", "requires_confirmation", "requires_action"}
)
CANCELLATION_REASONS: Final = ("abandoned", "duplicate", "fraudulent", "requested_by_customer")


class StripeState:
    """Sessions, payment intents and events of one simulated Stripe account.

    The clock is wall time plus an offset that tests move forward, so expiry
    can be exercised without waiting; timestamps in objects use this clock.
    """

    def __init__(
        self,
        *,
        base_url: str,
        webhooks_enabled: bool = False,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url
        self.sessions: dict[str, CheckoutSession] = {}
        self.intents: dict[str, PaymentIntent] = {}
        self.events: list[Event] = []
        self.idempotency = IdempotencyStore()
        self.calls: list[ApiCall] = []
        self.faults = FaultPlan()
        self._events_by_id: dict[str, Event] = {}
        self._session_of_intent: dict[str, str] = {}
        self._listeners: list[EventListener] = []
        self._webhooks_enabled = webhooks_enabled
        self._wall_clock = wall_clock
        self._offset = 0.0

    def now(self) -> int:
        return int(self._wall_clock() + self._offset)

    def advance_clock(self, seconds: float) -> int:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds
        return self.now()

    def subscribe(self, listener: EventListener) -> None:
        self._listeners.append(listener)

    # Checkout Sessions

    def create_session(self, params: JsonDict) -> CheckoutSession:
        session = build_session(params, now=self.now(), base_url=self.base_url)
        self.sessions[session.id] = session
        return session

    def session(self, session_id: str) -> CheckoutSession:
        """The session, expired first if its time is up (lazily, like Stripe's reads)."""
        session = self.sessions.get(session_id)
        if session is None:
            raise no_such("checkout.session", session_id, "session")
        if session.status == "open" and session.expires_at <= self.now():
            self._expire(session)
        return session

    def expire_session(self, session_id: str) -> CheckoutSession:
        session = self.session(session_id)
        if session.status != "open":
            raise StripeError(
                'Only Checkout Sessions with a status in ["open"] can be expired. '
                f"This Checkout Session has a status of `{session.status}`."
            )
        self._expire(session)
        return session

    def expire_due_sessions(self) -> int:
        now = self.now()
        due = [s for s in self.sessions.values() if s.status == "open" and s.expires_at <= now]
        for session in due:
            self._expire(session)
        return len(due)

    def _expire(self, session: CheckoutSession) -> None:
        """An expired session takes its unpaid PaymentIntent with it, as on Stripe."""
        session.move_to("expired")
        intent = self.intents.get(session.payment_intent or "")
        if intent is not None and intent.status in CANCELABLE:
            intent.cancel(self.now(), "automatic")
            self._emit("payment_intent.canceled", intent)
        self._emit("checkout.session.expired", session)

    def session_body(self, session: CheckoutSession, expand: frozenset[str]) -> JsonDict:
        intent = self.intents.get(session.payment_intent or "")
        inline = intent.to_dict() if intent is not None and "payment_intent" in expand else None
        return session.to_dict(inline)

    # The hosted page

    def pay(self, session_id: str, card_number: str) -> PaymentOutcome:
        session = self.session(session_id)
        if session.status != "open":
            return PaymentOutcome(
                kind="unavailable",
                message=f"This Checkout Session is {session.status} and can no longer be paid.",
            )
        digits = card_digits(card_number)
        if digits == SUCCESS_CARD:
            return self._authorize(session)
        if digits in DECLINED_CARDS:
            return self._decline(session, *DECLINED_CARDS[digits])
        return PaymentOutcome(kind="invalid", message=INVALID_CARD_MESSAGE)

    def _intent_for(self, session: CheckoutSession) -> PaymentIntent:
        """Checkout creates the PaymentIntent on the first attempt and reuses it after a decline."""
        if session.payment_intent is not None:
            return self.intents[session.payment_intent]
        data = session.intent_data
        intent = PaymentIntent(
            id=new_id("pi_"),
            amount=session.amount_total,
            currency=session.currency,
            capture_method=session.capture_method,
            metadata=dict(data.get("metadata", {})),
            description=data.get("description"),
            created=self.now(),
        )
        self.intents[intent.id] = intent
        self._session_of_intent[intent.id] = session.id
        session.payment_intent = intent.id
        self._emit("payment_intent.created", intent)
        return intent

    def _authorize(self, session: CheckoutSession) -> PaymentOutcome:
        intent = self._intent_for(session)
        intent.authorize(new_id("ch_"), new_id("pm_"))
        held = intent.status == "requires_capture"
        self._emit(
            "payment_intent.amount_capturable_updated" if held else "payment_intent.succeeded",
            intent,
        )
        session.complete(paid=not held)
        self._emit("checkout.session.completed", session)
        return PaymentOutcome(
            kind="paid",
            message="Payment authorized." if held else "Payment succeeded.",
            redirect_url=session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id),
            payment_intent=intent.id,
        )

    def _decline(self, session: CheckoutSession, code: str, message: str) -> PaymentOutcome:
        intent = self._intent_for(session)
        intent.decline(new_id("ch_"), new_id("pm_"), decline_error(code, message))
        self._emit("payment_intent.payment_failed", intent)
        return PaymentOutcome(kind="declined", message=message, payment_intent=intent.id)

    # PaymentIntents

    def intent(self, intent_id: str) -> PaymentIntent:
        intent = self.intents.get(intent_id)
        if intent is None:
            raise no_such("payment_intent", intent_id, "intent")
        return intent

    def capture(
        self, intent_id: str, amount: int | None, metadata: dict[str, str] | None = None
    ) -> PaymentIntent:
        intent = self.intent(intent_id)
        if intent.status != "requires_capture":
            raise _unexpected_state(
                intent,
                f"This PaymentIntent could not be captured because it has a status of "
                f"{intent.status}. Only a PaymentIntent with one of the following statuses "
                "may be captured: requires_capture.",
            )
        amount = intent.amount_capturable if amount is None else amount
        if amount <= 0:
            raise invalid_param(
                "The amount_to_capture must be a positive integer.",
                "amount_to_capture",
                "amount_too_small",
            )
        if amount > intent.amount_capturable:
            raise StripeError(
                f"The amount_to_capture ({amount}) must be less than or equal to the "
                f"amount_capturable ({intent.amount_capturable}).",
                code="amount_too_large",
                param="amount_to_capture",
            )
        intent.metadata.update(metadata or {})
        intent.capture(amount)
        self._emit("payment_intent.succeeded", intent)
        return intent

    def cancel(self, intent_id: str, reason: str | None) -> PaymentIntent:
        if reason is not None and reason not in CANCELLATION_REASONS:
            raise invalid_param(
                f"Invalid cancellation_reason: must be one of {', '.join(CANCELLATION_REASONS)}",
                "cancellation_reason",
            )
        intent = self.intent(intent_id)
        if intent.status not in CANCELABLE:
            raise _unexpected_state(
                intent,
                f"You cannot cancel this PaymentIntent because it has a status of "
                f"{intent.status}. Only a PaymentIntent with one of the following statuses "
                "may be canceled: requires_payment_method, requires_capture, "
                "requires_confirmation, requires_action, processing.",
            )
        if intent.status != "requires_capture" and intent.id in self._session_of_intent:
            raise _unexpected_state(
                intent,
                "You can only cancel the PaymentIntent of a Checkout Session when it has a "
                "status of requires_capture. Expire the Checkout Session instead.",
            )
        intent.cancel(self.now(), reason)
        self._emit("payment_intent.canceled", intent)
        return intent

    # Events

    def event(self, event_id: str) -> Event:
        event = self._events_by_id.get(event_id)
        if event is None:
            raise no_such("event", event_id, "id")
        return event

    def _emit(self, type_: str, source: PaymentIntent | CheckoutSession) -> None:
        event = Event(
            id=new_id("evt_"),
            type=type_,
            created=self.now(),
            object_id=source.id,
            data=copy.deepcopy(source.to_dict()),
            api_version=stripe.api_version,
            pending_webhooks=1 if self._webhooks_enabled else 0,
        )
        self.events.append(event)
        self._events_by_id[event.id] = event
        for listener in self._listeners:
            listener(event)


def _unexpected_state(intent: PaymentIntent, message: str) -> StripeError:
    return StripeError(
        message,
        code="payment_intent_unexpected_state",
        extra={"payment_intent": intent.to_dict()},
    )
