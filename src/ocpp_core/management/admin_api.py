"""The server's command and payment endpoints, as the operator pages call them.

A short-lived client per call (on the process's one trust store): commands are rare
clicks, and the dashboard's pooled client keeps its short status timeout. Every
outcome, a refusal or an unreachable server included, becomes one sentence for the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from ocpp_core.management.context import ManagementContext
from ocpp_core.management.i18n import N_, gettext
from ocpp_core.tls_trust import trusted

COMMAND_TIMEOUT = 15.0  # the original's command timeout
START_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the server answered: ``ok`` when the charger (or the server) accepted."""

    ok: bool
    status: str
    message: str


# RebootRequired: a setting was taken and applies after the charger restarts.
_OK = frozenset({"Accepted", "Unlocked", "Cancelled", "Scheduled", "RebootRequired"})


def part(value: str | int) -> str:
    """A path segment, percent-encoded (ids may hold ``+ : | @ *``)."""
    return quote(str(value), safe="")


async def command(context: ManagementContext, what: str, path: str) -> Outcome:
    """``GET /API/{path}``; ``what`` names the action in the message."""
    timeout = START_TIMEOUT if path.startswith("StartTransaction/") else COMMAND_TIMEOUT
    return _outcome(what, await _call(context, "GET", f"/API/{path}", timeout=timeout))


async def post(context: ManagementContext, what: str, path: str, body: dict[str, Any]) -> Outcome:
    """``POST /API/{path}`` with a JSON body; ``what`` names the action in the message."""
    return _outcome(what, await post_json(context, path, body))


async def download(context: ManagementContext, path: str) -> StreamingResponse | None:
    """``GET /API/{path}``'s file passed through as it streams in; None if there is none."""
    settings = context.settings
    client = httpx.AsyncClient(
        base_url=settings.management.server_api_url,
        headers={"X-API-Key": settings.api_key.get_secret_value()},
        timeout=COMMAND_TIMEOUT,
        verify=trusted(),
    )
    try:
        response = await client.send(client.build_request("GET", f"/API/{path}"), stream=True)
    except httpx.HTTPError:
        await client.aclose()
        return None
    if response.status_code != 200:
        await response.aclose()
        await client.aclose()
        return None

    async def close() -> None:
        await response.aclose()
        await client.aclose()

    disposition = response.headers.get("content-disposition", "attachment")
    return StreamingResponse(
        response.aiter_raw(),
        media_type="application/octet-stream",
        headers={"content-disposition": disposition},
        background=BackgroundTask(close),
    )


async def cancel_reservation(context: ManagementContext, reservation_id: str) -> Outcome:
    body = {"reservationId": reservation_id, "reason": "cancelled by an operator"}
    answer = await _call(context, "POST", "/API/Payments/Cancel", timeout=START_TIMEOUT, json=body)
    if isinstance(answer, dict) and answer.get("status") == "Cancelled":
        applied = bool(answer.get("cancellationApplied"))
        message = (
            gettext("Reservation cancelled; its card hold is released.")
            if applied
            else gettext("The reservation had already ended; nothing changed.")
        )
        return Outcome(applied, "Cancelled", message)
    return _outcome(gettext("Cancel"), answer)


# -- operators' reservations (see management.reservations)


async def reserve_now(context: ManagementContext, body: dict[str, Any]) -> Outcome:
    return await post(context, gettext("Reserve"), "ReserveNow", body)


async def cancel_charger_reservation(context: ManagementContext, reservation_id: int) -> Outcome:
    body = {"reservationId": reservation_id}
    return await post(context, gettext("Cancel reservation"), "CancelReservation", body)


# The server's answers to a review decision: whether it was taken, and what to say.
_REVIEWED = {
    "Captured": (True, N_("Captured; the rest of the card hold is released.")),
    "Released": (True, N_("The card hold is released; nothing is charged.")),
    "AlreadyDecided": (False, N_("Someone else decided this payment first; nothing changed.")),
    "NotUnderReview": (False, N_("This payment is not waiting for a decision; nothing changed.")),
    "AmountAboveHold": (False, N_("More than the card hold: at most the hold can be captured.")),
    "AmountNotPositive": (False, N_("An amount above zero; to charge nothing, release the hold.")),
    "NotFound": (False, N_("There is no such payment.")),
}


async def decide_review(
    context: ManagementContext,
    reservation_id: str,
    action: str,
    amount_cents: int | None,
    decided_by: str,
) -> Outcome:
    """Capture ``amount_cents`` or release, as ``decided_by``; the server takes it once."""
    body: dict[str, Any] = {"reservationId": reservation_id, "action": action}
    body |= {"decidedBy": decided_by, "amountCents": amount_cents}
    answer = await _call(context, "POST", "/API/Payments/Review", timeout=START_TIMEOUT, json=body)
    if isinstance(answer, str):
        return Outcome(False, "Unreachable", answer)
    status = str(answer.get("status"))
    known = _REVIEWED.get(status)
    if known is not None:
        return Outcome(known[0], status, gettext(known[1]))
    # Taken, but Stripe has not confirmed it: retried by the sweeps, or back for review.
    error = answer.get("error") or status
    return Outcome(False, status, gettext("Stripe did not confirm it: %(error)s.", error=error))


async def _call(
    context: ManagementContext, method: str, path: str, *, timeout: float, **kwargs: Any
) -> dict[str, Any] | str:
    """The JSON answer, or a sentence saying why there is none."""
    settings = context.settings
    headers = {"X-API-Key": settings.api_key.get_secret_value()}
    try:
        async with httpx.AsyncClient(
            base_url=settings.management.server_api_url,
            headers=headers,
            timeout=timeout,
            verify=trusted(),
        ) as client:
            response = await client.request(method, path, **kwargs)
    except httpx.TimeoutException:
        return gettext("The OCPP server did not answer in time.")
    except httpx.HTTPError:
        return gettext("The OCPP server can't be reached.")
    try:
        body = response.json()
    except ValueError:
        return gettext("The OCPP server answered HTTP %(status)s.", status=response.status_code)
    if not isinstance(body, dict):
        return gettext("The OCPP server answered HTTP %(status)s.", status=response.status_code)
    return body


_EXPLAINED = {
    "ChargerOffline": N_("the charger is not connected"),
    "Timeout": N_("the charger did not answer in time"),
    "NoOpenTransaction": N_("there is no open transaction on that connector"),
    "NotSupported": N_("the charger does not support it"),
    "NotFound": N_("unknown"),
}


def _outcome(what: str, answer: dict[str, Any] | str) -> Outcome:
    if isinstance(answer, str):
        return Outcome(False, "Unreachable", f"{what}: {answer}")
    read = answer.get("getVariableResult")
    if read:  # a device-model read answers per variable, with no overall status
        return _read_outcome(what, read[0])
    status = str(answer.get("status", "?"))
    detail = _EXPLAINED.get(status)
    error = answer.get("error")
    text = f"{what}: {status}"
    if detail:
        text += f" ({gettext(detail)})"
    elif error:
        text += f" ({error})"
    return Outcome(status in _OK, status, text + ".")


def _read_outcome(what: str, result: dict[str, Any]) -> Outcome:
    status = str(result.get("attributeStatus", "?"))
    value = result.get("attributeValue")
    if status != "Accepted" or value is None:
        return Outcome(status == "Accepted", status, f"{what}: {status}.")
    return Outcome(True, status, gettext("%(what)s: %(value)s", what=what, value=value))


# Local authorization lists (issue 14): operations with a JSON body.
LIST_SYNC_TIMEOUT = 120.0  # a whole list goes in several messages, each with its timeout


async def post_json(
    context: ManagementContext, path: str, body: dict[str, Any], *, timeout: float = COMMAND_TIMEOUT
) -> dict[str, Any] | str:
    """``POST /API/{path}``: the JSON answer, or a sentence saying why there is none."""
    return await _call(context, "POST", f"/API/{path}", timeout=timeout, json=body)


def outcome_of(what: str, answer: dict[str, Any] | str) -> Outcome:
    """An answer of :func:`post_json` as the page's message, for pages that read it too."""
    return _outcome(what, answer)
