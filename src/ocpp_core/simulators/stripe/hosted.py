"""The hosted checkout page a session's ``url`` points at: a plain form, no JavaScript.

It posts back to its own URL, so it works behind any proxy prefix and in a
browser test without extra wiring.
"""

from __future__ import annotations

from html import escape
from typing import Final
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .errors import StripeError
from .models import CheckoutSession
from .state import StripeState

_ZERO_DECIMAL: Final = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
_STYLE: Final = """
body{font-family:system-ui,sans-serif;background:#f6f9fc;color:#1a1f36;margin:0}
main{max-width:26rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:.5rem;
box-shadow:0 2px 8px #0002}
.test{background:#ffde92;color:#5d4200;padding:.2rem .5rem;border-radius:.25rem;font-size:.8rem}
label{display:block;font-weight:600;margin-top:1rem}
input{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;margin-top:.3rem}
.hint{color:#4f566b;font-size:.85rem}
.error{color:#b3093c;font-weight:600}
button{margin-top:1rem;padding:.7rem 1.2rem;font-size:1rem;border-radius:.3rem;border:0}
.pay{background:#635bff;color:#fff}
.cancel{background:#e3e8ee;color:#1a1f36}
"""


def format_amount(amount: int, currency: str) -> str:
    if currency in _ZERO_DECIMAL:
        return f"{amount} {currency.upper()}"
    return f"{amount // 100}.{amount % 100:02d} {currency.upper()}"


class HostedCheckout:
    def __init__(self, state: StripeState) -> None:
        self._state = state

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/checkout/{id}", self._page, methods=["GET", "POST"]),
            Route("/checkout/{id}/cancel", self._cancel, methods=["GET"]),
        ]

    async def _page(self, request: Request) -> Response:
        try:
            session = self._state.session(request.path_params["id"])
        except StripeError:
            return _document("Not found", "<p>There is no such checkout session.</p>", 404)
        if request.method == "GET":
            return _session_page(session)
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if form.get("action") == "cancel":
            return _cancel_redirect(session)
        outcome = self._state.pay(session.id, form.get("card_number", ""))
        if outcome.redirect_url is not None:
            return RedirectResponse(outcome.redirect_url, status_code=303)
        if outcome.kind == "unavailable":
            return _document("Unavailable", f"<p>{escape(outcome.message)}</p>", 400)
        return _session_page(session, error=outcome.message, status=outcome.http_status)

    async def _cancel(self, request: Request) -> Response:
        try:
            session = self._state.session(request.path_params["id"])
        except StripeError:
            return _document("Not found", "<p>There is no such checkout session.</p>", 404)
        return _cancel_redirect(session)


def _cancel_redirect(session: CheckoutSession) -> Response:
    """Leaving the page changes nothing: the session stays open until it expires."""
    if session.cancel_url is None:
        return _document("Cancelled", "<p>You can close this page.</p>", 200)
    return RedirectResponse(session.cancel_url, status_code=303)


def _session_page(
    session: CheckoutSession, *, error: str | None = None, status: int = 200
) -> Response:
    amount = format_amount(session.amount_total, session.currency)
    items = "".join(
        f"<li>{escape(item.name)} &times; {item.quantity}: "
        f"{format_amount(item.unit_amount * item.quantity, session.currency)}</li>"
        for item in session.line_items
    )
    summary = f"<h1>Pay {amount}</h1><ul>{items}</ul>"
    if session.status != "open":
        notice = f"<p>This checkout session is {session.status}; it can no longer be paid.</p>"
        return _document(f"Checkout {session.status}", summary + notice, status)
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    cancel = (
        '<button class="cancel" type="submit" name="action" value="cancel" formnovalidate>'
        "Cancel</button>"
        if session.cancel_url
        else ""
    )
    form = f"""{alert}
<form method="post">
  <label for="card_number">Card number</label>
  <input id="card_number" name="card_number" inputmode="numeric" autocomplete="cc-number"
    required aria-describedby="card-hint"{' aria-invalid="true"' if error else ""}>
  <p id="card-hint" class="hint">Test cards: 4242 4242 4242 4242 pays,
    4000 0000 0000 0002 is declined.</p>
  <button class="pay" type="submit" name="action" value="pay">Pay {amount}</button>
  {cancel}
</form>"""
    return _document(f"Pay {amount}", summary + form, status)


def _document(title: str, body: str, status: int) -> HTMLResponse:
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · Stripe simulator</title>
<style>{_STYLE}</style>
</head>
<body><main>
<p><span class="test">Test mode · Stripe simulator</span></p>
{body}
</main></body>
</html>"""
    return HTMLResponse(html, status_code=status)
