"""The anonymous driver pages: scan, see the prices, pay, watch the session, get the receipt.

``/cp/{id}/{n}`` (the QR label's short link) → ``/Public/Start?cp=&conn=`` →
``POST /Public/Start`` (server ``Payments/Create``) → Stripe Checkout →
``/Payments/Success`` (server ``Payments/Confirm``) → ``/Payments/Status``,
which polls a fragment until the receipt. ``/Payments/Cancel`` is Checkout's
way back without paying: it offers the way back to the payment and a Cancel
button; ``POST /Public/CancelRecovery`` cancels an attempt left unpaid.

No GET changes a session: a link from another site carries the driver's
cookie, so only a POST with the form's CSRF token cancels or stops. The one
GET that acts, ``/Payments/Success``, only learns from Stripe what the driver
already did (the payment), exactly as the signed webhook does.

A driver's reservations are remembered in a signed cookie for a day, so one
who closes the browser and scans again is shown their session. That cookie,
not the reservation id, is what gives access to a session: ids travel in URLs
(history, screenshots, a shared phone), so an id alone shows, stops or cancels
nothing. The one exception is the way back from Checkout with the Checkout
session's id, which the server checks: it proves the payer, so it adds the
reservation to the cookie (a driver may pay in another browser than the one
that scanned).
"""

from __future__ import annotations

import base64
import math
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, Form, Query
from itsdangerous import URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ocpp_core.management import driver_cookie
from ocpp_core.management.context import ContextDep, ManagementContext, get_context
from ocpp_core.management.driver_cookie import COOKIE
from ocpp_core.management.live import VERSION, fragment, version_of
from ocpp_core.management.public_api import UNREACHABLE, ApiAnswer, PaymentsApi
from ocpp_core.management.public_station import Station, load_station, station_name
from ocpp_core.management.public_status import UNPAID, SessionView, session_view
from ocpp_core.management.templating import render
from ocpp_core.params import parse_db_int
from ocpp_core.payments.late import PAID_LATE
from ocpp_core.payments.reservations import unpaid_cutoff
from ocpp_core.proxies import client_address
from ocpp_core.shared_routes import add_routes

router = APIRouter(include_in_schema=False)

START_PATH = "/Public/Start"
STATUS_PATH = "/Payments/Status"
FRAGMENT_PATH = "/Payments/StatusFragment"
CANCEL_UNPAID_PATH = "/Public/CancelRecovery"
CANCEL_PATH = "/Payments/Cancel"  # Checkout's cancel_url
TAG_PREFIX = "WEB-"
_MAX_ID = 100
FormText = Annotated[str, Form()]
ReservationQuery = Annotated[str, Query(alias="reservationId")]
ReservationForm = Annotated[str, Form(alias="reservationId")]


# --- wiring -------------------------------------------------------------------------------


@dataclass
class PublicState:
    api: PaymentsApi
    limiter: RateLimiter
    cookies: URLSafeTimedSerializer


def install(app: FastAPI) -> None:
    """Add the driver pages to the management app (after its context is set up)."""
    context: ManagementContext = app.state.management
    settings = context.settings
    api = PaymentsApi(
        settings.management.server_api_url,
        settings.api_key.get_secret_value(),
        settings.management.server_api_timeout,
    )
    app.state.public = PublicState(
        api=api,
        limiter=RateLimiter(settings.management.public_starts_per_minute),
        cookies=URLSafeTimedSerializer(
            settings.management.session_secret.get_secret_value(), salt="ocpp-core.driver"
        ),
    )
    add_routes(app, router)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        try:
            async with inner(app) as state:
                yield state
        finally:
            await api.close()

    app.router.lifespan_context = lifespan


def _public(request: Request) -> PublicState:
    state: PublicState = request.app.state.public
    return state


class RateLimiter:
    """At most ``per_minute`` hits per key in any 60 s; kept in memory, per process."""

    WINDOW = 60.0
    MAX_KEYS = 10_000

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> float | None:
        """Count a hit; the seconds to wait if it is over the limit (then not counted)."""
        now = self.clock()
        if len(self._hits) > self.MAX_KEYS:
            self._forget_idle(now)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.WINDOW:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return max(1.0, hits[0] + self.WINDOW - now)
        hits.append(now)
        return None

    def _forget_idle(self, now: float) -> None:
        idle = now - self.WINDOW
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= idle]:
            del self._hits[key]


# --- the start page ---------------------------------------------------------------------


@router.get("/cp/{rest:path}")
async def short_link(rest: str) -> Response:
    """``/cp/{id}`` and ``/cp/{id}/{n}``, the short links printed on labels."""
    charge_point_id, _, number = rest.rstrip("/").rpartition("/")
    connector_id = parse_db_int(number)
    if not charge_point_id or connector_id is None:
        charge_point_id, connector_id = rest.rstrip("/"), 1
    return RedirectResponse(_start_url(charge_point_id, connector_id), 302)


@router.get(START_PATH)
async def start_page(
    request: Request, context: ContextDep, cp: str = "", conn: str = "1"
) -> Response:
    """The connector, its status and every price, before anything is paid."""
    station = await _station(context, cp, conn)
    if station is None:
        return _not_found(request, "charger")
    response = await _start_form(request, station)
    _keep_driver(request, response)
    return response


@router.post(START_PATH)
async def start(
    request: Request, context: ContextDep, cp: FormText = "", conn: FormText = "1"
) -> Response:
    """Reserve the connector: to Checkout, or straight to charging when it is free.

    The session always gets a new one-time tag. A tag id typed here would prove
    nothing (an RFID UID is printed on cards and read by any phone), so none is
    taken: a free-charging card is honoured where it is presented, at the charger.
    """
    public = _public(request)
    wait = public.limiter.hit(client_address(request))
    if wait is not None:
        headers = {"Retry-After": str(math.ceil(wait))}
        return _page(request, "public/too_many.html", {}, status_code=429, headers=headers)
    station = await _station(context, cp, conn)
    if station is None:
        return _not_found(request, "charger")
    answer = await public.api.create(
        station.charge_point_id,
        station.connector_id,
        new_tag(),
        context.settings.public_base_url,
        _driver(request),
    )
    reservation_id = answer.text("reservationId")
    checkout_url = answer.text("checkoutUrl")
    if answer.ok and answer.status == "Redirect" and reservation_id and checkout_url:
        response: Response = RedirectResponse(checkout_url, 303)
    elif answer.ok and reservation_id and answer.status not in _FREE_START_FAILED:
        values = {"station": station, "status_url": _status_url(reservation_id)}
        response = _page(request, "public/started.html", values)
    else:
        problem, status_code = _create_problem(answer)
        return await _start_form(request, station, problem=problem, status_code=status_code)
    if reservation_id:
        here = (station.charge_point_id, station.connector_id)
        _remember(request, response, *here, reservation_id)
    return response


# A free session whose remote start was refused at once (others are retried).
_FREE_START_FAILED = frozenset({"StartRejected", "StartTimeout", "ConnectorBusy", "NotFound"})


def _create_problem(answer: ApiAnswer) -> tuple[str, int]:
    """The message key for a Create that didn't work, and the page's HTTP status."""
    status = answer.status
    if status == "ChargerOffline":
        return "offline", 503
    if status == "ConnectorBusy":
        return "busy", 409
    if status == "PaymentsDisabled":
        return "payments_disabled", 503
    if status == "PricingNotConfigured":
        return "not_priced", 409
    if status in _FREE_START_FAILED:
        return "start_rejected", 409
    if status == "TryAgain":  # e.g. an unpaid attempt's checkout could not be closed yet
        return "try_again", 503
    if status == UNREACHABLE:
        return "unavailable", 503
    return "error", 502


def new_tag() -> str:
    """``WEB-`` and 16 random base32 characters: 20, the most an OCPP 1.6 idTag holds."""
    return TAG_PREFIX + base64.b32encode(secrets.token_bytes(10)).decode()


async def _start_form(
    request: Request,
    station: Station,
    *,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    values = {
        "station": station,
        "problem": problem,
        "earlier": await _earlier_session(request, station),
    }
    return _page(request, "public/start.html", values, status_code=status_code)


@dataclass(frozen=True, slots=True)
class Earlier:
    """This browser's session on this connector, from the cookie."""

    status_url: str
    checkout_url: str | None  # still to be paid, and the checkout still open
    ended: bool
    unpaid: bool = False  # the driver may cancel it (CANCEL_UNPAID_PATH)


async def _earlier_session(request: Request, station: Station) -> Earlier | None:
    reservation_id = _remembered_at(request, station.charge_point_id, station.connector_id)
    if reservation_id is None:
        return None
    answer = await _public(request).api.resume(reservation_id)
    if not answer.ok:
        return None
    if answer.body.get("locksConnector") is True:
        checkout = answer.text("checkoutUrl") if answer.status == "Redirect" else None
        unpaid = answer.text("reservationStatus") == UNPAID
        return Earlier(_status_url(reservation_id), checkout, ended=False, unpaid=unpaid)
    if answer.text("reservationStatus") == "Completed":
        return Earlier(_status_url(reservation_id), None, ended=True)
    return None


async def _station(context: ManagementContext, cp: str, conn: str) -> Station | None:
    connector_id = parse_db_int(conn.strip() or "1")
    if not cp or len(cp) > _MAX_ID or connector_id is None or not 1 <= connector_id <= 1000:
        return None
    live = await context.server.status_of(cp)
    settings = context.settings
    cutoff = unpaid_cutoff(context.clock(), settings.payments.unpaid_hold_minutes)
    async with context.db.session() as session:
        return await load_station(
            session, cp, connector_id, live, settings.stripe.currency, unpaid_cutoff=cutoff
        )


# --- back from Checkout, and the session's status -------------------------------------------


@router.get("/Payments/Success")
async def payment_success(
    request: Request,
    reservation_id: ReservationQuery = "",
    session_id: str = "",
) -> Response:
    """Stripe's return after paying: confirm the hold (and start), then show the status."""
    if not _valid_id(reservation_id) or not session_id or len(session_id) > 200:
        return _not_found(request, "session")
    api = _public(request).api
    answer = await api.confirm(reservation_id, session_id)
    if answer.ok or answer.status == PAID_LATE:  # too late: the status page says so
        response = RedirectResponse(_status_url(reservation_id), 303)
        if not _owns(request, reservation_id):  # paid in another browser than it started in
            seen = await api.status(reservation_id)
            cp, conn = seen.text("chargePointId"), seen.body.get("connectorId")
            if cp and isinstance(conn, int):
                _remember(request, response, cp, conn, reservation_id)
        return response
    if answer.http_status == 404:
        return _not_found(request, "session")
    values = {
        "status_url": _status_url(reservation_id),
        "reason": answer.text("error") or answer.status,
        "unreachable": answer.status == UNREACHABLE,
    }
    return _page(request, "public/not_confirmed.html", values, status_code=502)


@router.get(CANCEL_PATH)
async def left_checkout(request: Request, reservation_id: ReservationQuery = "") -> Response:
    """Checkout's way back without paying: back to the payment, or a button to cancel."""
    if not _owns(request, reservation_id):
        return _not_found(request, "session")
    answer = await _public(request).api.resume(reservation_id)
    if answer.http_status == 404:
        return _not_found(request, "session")
    if not answer.ok:
        return _page(request, "public/unavailable.html", {}, status_code=503)
    if answer.text("reservationStatus") != UNPAID:  # paid meanwhile, or over: nothing to cancel
        return RedirectResponse(_status_url(reservation_id), 303)
    values = {
        "reservation_id": reservation_id,
        "checkout_url": answer.text("checkoutUrl") if answer.status == "Redirect" else None,
    }
    return _page(request, "public/left_checkout.html", values)


@router.post(CANCEL_PATH)
async def cancel_payment(request: Request, reservation_id: ReservationForm = "") -> Response:
    """The button of the page above."""
    if not _owns(request, reservation_id):
        return _not_found(request, "session")
    return await _cancel(request, reservation_id, "checkout_cancelled")


@router.post(CANCEL_UNPAID_PATH)
async def cancel_unpaid(request: Request, cp: FormText = "", conn: FormText = "") -> Response:
    """ "Cancel this unpaid attempt": this browser's own, the id taken from its cookie."""
    connector_id = parse_db_int(conn)
    reservation_id = _remembered_at(request, cp, -1 if connector_id is None else connector_id)
    if reservation_id is None:
        return _not_found(request, "session")
    return await _cancel(request, reservation_id, "public_recovery_cancelled")


async def _cancel(request: Request, reservation_id: str, reason: str) -> Response:
    """Cancel through the server, which expires the checkout and releases any hold."""
    api = _public(request).api
    answer = await api.cancel(reservation_id, reason)
    if answer.http_status == 404:
        return _not_found(request, "session")
    if not answer.ok:
        return _page(request, "public/unavailable.html", {}, status_code=503)
    seen = await api.status(reservation_id)
    cp = seen.text("chargePointId")
    conn = seen.body.get("connectorId")
    values = {
        "applied": answer.body.get("cancellationApplied") is True,
        "status_url": _status_url(reservation_id),
        "start_url": _start_url(cp, conn) if cp and isinstance(conn, int) else None,
    }
    return _page(request, "public/cancelled.html", values)


@router.get(STATUS_PATH)
async def status_page(
    request: Request,
    context: ContextDep,
    reservation_id: ReservationQuery = "",
    stop: str = "",
) -> Response:
    """The session live: stage, power, energy, cost so far, Stop; at the end the receipt."""
    answer = await _session(request, reservation_id)
    if isinstance(answer, Response):
        return answer
    view = session_view(answer.body)
    async with context.db.session() as session:
        name = await station_name(session, view.charge_point_id)
    values = {
        **_status_values(context, view),
        "station_name": name,
        "stop": stop if stop in ("requested", "failed") else None,
        "start_url": _start_url(view.charge_point_id, view.connector_id),
    }
    return _page(request, "public/status.html", values)


@router.get(FRAGMENT_PATH)
async def status_fragment(
    request: Request,
    context: ContextDep,
    reservation_id: ReservationQuery = "",
    v: str = "",
) -> Response:
    """The live part of the status page, which it polls."""
    answer = await _session(request, reservation_id)
    if isinstance(answer, Response):
        return answer
    view = session_view(answer.body)
    values = _status_values(context, view)
    return fragment(request, "public/_status.html", values, seen=v)


@router.post("/Payments/Stop")
async def stop_session(request: Request, reservation_id: ReservationForm = "") -> Response:
    """The Stop button: the server asks the charger to stop (or cancels before charging)."""
    if not _owns(request, reservation_id):
        return _not_found(request, "session")
    answer = await _public(request).api.stop(reservation_id)
    if answer.http_status == 404:
        return _not_found(request, "session")
    stopped = answer.ok and answer.status in ("Accepted", "Cancelled", "AlreadyStopped")
    url = _status_url(reservation_id, stop="requested" if stopped else "failed")
    return RedirectResponse(url, 303)


async def _session(request: Request, reservation_id: str) -> ApiAnswer | Response:
    if not _owns(request, reservation_id):
        return _not_found(request, "session")
    answer = await _public(request).api.status(reservation_id)
    if answer.http_status == 404:
        return _not_found(request, "session")
    if not answer.ok:
        return _page(request, "public/unavailable.html", {}, status_code=503)
    return answer


def _status_values(context: ManagementContext, view: SessionView) -> dict[str, object]:
    seconds = context.settings.management.public_status_refresh_seconds
    return {
        "view": view,
        VERSION: version_of(view),
        "fragment_path": FRAGMENT_PATH,
        "refresh": f"{seconds:g}s",
        "unpaid_hold_minutes": context.settings.payments.unpaid_hold_minutes,
    }


# --- helpers ----------------------------------------------------------------------------------


def _page(
    request: Request,
    template: str,
    values: Mapping[str, Any],
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A driver page, with the operator's contact details for its footer."""
    management = get_context(request).settings.management
    contact = {
        "operator": management.operator_name,
        "email": management.support_email,
        "phone": management.support_phone,
    }
    return render(
        request,
        template,
        {"contact": contact, **values},
        status_code=status_code,
        headers=headers,
    )


def _not_found(request: Request, what: str) -> Response:
    return _page(request, "public/not_found.html", {"what": what}, status_code=404)


def _start_url(charge_point_id: str, connector_id: int) -> str:
    return f"{START_PATH}?cp={quote(charge_point_id, safe='')}&conn={connector_id}"


def _status_url(reservation_id: str, **extra: str) -> str:
    return f"{STATUS_PATH}?{urlencode({'reservationId': reservation_id, **extra})}"


def _valid_id(reservation_id: str) -> bool:
    return 0 < len(reservation_id) <= 36


# --- the cookie that remembers a driver ---------------------------------------------------------


def _jar(request: Request) -> driver_cookie.Jar:
    return driver_cookie.read(request.cookies.get(COOKIE), _public(request).cookies)


def _driver(request: Request) -> str:
    """This browser's driver id: the cookie's, or a new one kept for the rest of the request."""
    driver = _jar(request).driver or getattr(request.state, "driver", None)
    if driver is None:
        driver = request.state.driver = driver_cookie.new_driver()
    return str(driver)


def _remembered_at(request: Request, charge_point_id: str, connector_id: int) -> str | None:
    """The reservation this browser made on the connector, if it remembers one."""
    here = (charge_point_id, connector_id)
    return next((e[2] for e in _jar(request).sessions if e[:2] == here), None)


def _owns(request: Request, reservation_id: str) -> bool:
    """Whether the reservation is this browser's own (a valid id alone is not enough)."""
    sessions = _jar(request).sessions
    return _valid_id(reservation_id) and any(e[2] == reservation_id for e in sessions)


def _remember(
    request: Request,
    response: Response,
    charge_point_id: str,
    connector_id: int,
    reservation_id: str,
) -> None:
    entry = (charge_point_id, connector_id, reservation_id)
    _write(request, response, _jar(request).remembering(entry, _driver(request)))


def _keep_driver(request: Request, response: Response) -> None:
    """Give the browser its driver id before it starts anything (two starts at once share it)."""
    jar = _jar(request)
    if jar.driver is None:
        _write(request, response, driver_cookie.Jar(_driver(request), jar.sessions))


def _write(request: Request, response: Response, jar: driver_cookie.Jar) -> None:
    secure = get_context(request).settings.management.secure_cookies
    driver_cookie.write(response, jar, _public(request).cookies, secure=secure)
