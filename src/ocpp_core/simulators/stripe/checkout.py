"""Checkout Session creation with Stripe's checks, and what each test card does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from .errors import JsonDict, invalid_param, missing_param
from .models import CheckoutSession, LineItem, new_id

MIN_LIFETIME: Final = 30 * 60
MAX_LIFETIME: Final = 24 * 60 * 60
CAPTURE_METHODS: Final = ("automatic", "automatic_async", "manual")
SUCCESS_CARD: Final = "4242424242424242"
# Stripe's documented test cards for declines; the code is the issuer's reason.
DECLINED_CARDS: Final = {
    "4000000000000002": ("generic_decline", "Your card was declined."),
    "4000000000009995": ("insufficient_funds", "Your card has insufficient funds."),
}
INVALID_CARD_MESSAGE: Final = "Your card number is invalid."


@dataclass(frozen=True, kw_only=True)
class PaymentOutcome:
    """What paying a session did, for the hosted page and the ``/_sim`` shortcut alike."""

    kind: Literal["paid", "declined", "invalid", "unavailable"]
    message: str
    redirect_url: str | None = None
    payment_intent: str | None = None

    @property
    def http_status(self) -> int:
        return {"paid": 200, "declined": 402, "invalid": 400, "unavailable": 400}[self.kind]


def card_digits(card_number: str) -> str:
    return "".join(card_number.split())


def decline_error(decline_code: str, message: str) -> JsonDict:
    return {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": decline_code,
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        "message": message,
    }


def build_session(params: JsonDict, *, now: int, base_url: str) -> CheckoutSession:
    """A new open session; raises the 400 Stripe would send for bad parameters."""
    if _required(params, "mode", "") != "payment":
        raise invalid_param("The simulator only supports mode=payment.", "mode")
    success_url = _checked_url(_required(params, "success_url", ""), "success_url")
    cancel_url = params.get("cancel_url")
    items, currency = _line_items(params.get("line_items"))
    intent_data: JsonDict = params.get("payment_intent_data", {})
    if intent_data.get("capture_method", "automatic") not in CAPTURE_METHODS:
        raise invalid_param(
            f"Invalid capture_method: must be one of {', '.join(CAPTURE_METHODS)}",
            "payment_intent_data[capture_method]",
        )
    session_id = new_id("cs_test_", 58)
    return CheckoutSession(
        id=session_id,
        url=f"{base_url}/checkout/{session_id}",
        created=now,
        expires_at=_expires_at(params.get("expires_at"), now),
        currency=currency,
        line_items=items,
        success_url=success_url,
        cancel_url=None if cancel_url is None else _checked_url(cancel_url, "cancel_url"),
        metadata=params.get("metadata", {}),
        intent_data=intent_data,
        client_reference_id=params.get("client_reference_id"),
        customer_email=params.get("customer_email"),
        locale=params.get("locale"),
        payment_method_types=params.get("payment_method_types", ["card"]),
    )


def _checked_url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid_param("Not a valid URL", name, "url_invalid")
    return value


def _line_items(raw: list[Any] | None) -> tuple[list[LineItem], str]:
    if not raw:
        raise missing_param("line_items")
    items: list[LineItem] = []
    currencies: set[str] = set()
    for index, entry in enumerate(raw):
        param = f"line_items[{index}]"
        price = _required(entry, "price_data", param)
        quantity = _required(entry, "quantity", param)
        unit_amount = _required(price, "unit_amount", f"{param}[price_data]")
        currencies.add(_required(price, "currency", f"{param}[price_data]").lower())
        product = _required(price, "product_data", f"{param}[price_data]")
        name = _required(product, "name", f"{param}[price_data][product_data]")
        if quantity < 1 or unit_amount < 0:
            raise invalid_param("Quantity must be positive and amounts not negative.", param)
        items.append(LineItem(name=name, unit_amount=unit_amount, quantity=quantity))
    if len(currencies) != 1:
        raise invalid_param("All line items must use the same currency.", "line_items")
    if sum(item.unit_amount * item.quantity for item in items) <= 0:
        raise invalid_param("The total amount due must be positive.", "line_items")
    return items, currencies.pop()


def _required(container: JsonDict, key: str, param: str) -> Any:
    if key not in container:
        raise missing_param(f"{param}[{key}]" if param else key)
    return container[key]


def _expires_at(value: int | None, now: int) -> int:
    if value is None:
        return now + MAX_LIFETIME
    if not now + MIN_LIFETIME <= value <= now + MAX_LIFETIME:
        raise invalid_param(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours "
            "from Checkout Session creation.",
            "expires_at",
        )
    return value
