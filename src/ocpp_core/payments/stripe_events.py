"""Verified Stripe events, decoded into the few typed fields the webhook handlers read.

A valid signature proves who sent an event, not that it has the shape we expect
(an API version change, a test tool, a bug at the sender). Decoding it before
anything reads a field turns a wrong shape into one clear refusal instead of a
crash halfway through the handling.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# The longest event id we store (StripeWebhookEvent.id); Stripe's are about 30 characters.
MAX_EVENT_ID = 100
MAX_TYPE = 100


class MalformedEvent(ValueError):
    """A signed event whose fields are not what Stripe sends; the message says which."""


class _Decoded(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class PaymentError(_Decoded):
    message: str | None = None


class EventObject(_Decoded):
    """What the handlers read of ``data.object``: a Checkout Session or a PaymentIntent."""

    id: str = Field(min_length=1, max_length=255)
    payment_intent: str | None = None  # a Checkout Session's, once paid
    metadata: dict[str, str] | None = None
    last_payment_error: PaymentError | None = None


class _Data(_Decoded):
    object: dict[str, Any]


class StripeEvent(_Decoded):
    id: str = Field(min_length=1, max_length=MAX_EVENT_ID)
    type: str = Field(min_length=1, max_length=MAX_TYPE)
    data: _Data


def decode_event(raw: dict[str, Any]) -> StripeEvent:
    """The event's envelope; :class:`MalformedEvent` if it is not what Stripe sends."""
    try:
        return StripeEvent.model_validate(raw)
    except ValidationError as error:
        raise MalformedEvent(_first_problem(error, "")) from None


def event_object(event: StripeEvent) -> EventObject:
    """What a handler reads of the event's object; decoded only for the kinds we act on."""
    try:
        return EventObject.model_validate(event.data.object)
    except ValidationError as error:
        raise MalformedEvent(_first_problem(error, "data.object.")) from None


def _first_problem(error: ValidationError, prefix: str) -> str:
    problem = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in problem["loc"])
    return f"{prefix}{where}: {problem['msg']}"
