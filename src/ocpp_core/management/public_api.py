"""The server's ``/API/Payments/*`` as the driver pages call it (with ``X-API-Key``).

Every call answers an :class:`ApiAnswer`: the HTTP status and the JSON body,
or status 0 with ``{"status": "ServerUnreachable"}`` when the server can't be
asked, so a page always has something to say.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from ocpp_core.tls_trust import trusted

logger = logging.getLogger(__name__)

# Create calls Stripe and Confirm may wait for the charger's answer to a remote
# start: both can take far longer than a status read.
ACTION_TIMEOUT = 60.0
UNREACHABLE = "ServerUnreachable"


@dataclass(frozen=True, slots=True)
class ApiAnswer:
    http_status: int  # 0: no answer at all
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        value = self.body.get("status")
        return value if isinstance(value, str) else ""

    @property
    def ok(self) -> bool:
        return 200 <= self.http_status < 300

    def text(self, key: str) -> str | None:
        value = self.body.get(key)
        return value if isinstance(value, str) else None


class PaymentsApi:
    """A client for the payment endpoints; its connection pool lives as long as the app."""

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self._base_url = base_url
        self._headers = {"X-API-Key": api_key}
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._base_url,
                headers=self._headers,
                timeout=self._timeout,
                verify=trusted(),
            )
        return self._client

    async def create(
        self,
        charge_point_id: str,
        connector_id: int,
        tag: str,
        return_base_url: str,
        driver_key: str,
    ) -> ApiAnswer:
        body = {
            "chargePointId": charge_point_id,
            "connectorId": connector_id,
            "chargeTagId": tag,
            "origin": "public",
            "returnBaseUrl": return_base_url,
            "driverKey": driver_key,
        }
        return await self._post("Create", body)

    async def confirm(self, reservation_id: str, checkout_session_id: str) -> ApiAnswer:
        body = {"reservationId": reservation_id, "checkoutSessionId": checkout_session_id}
        return await self._post("Confirm", body)

    async def cancel(self, reservation_id: str, reason: str) -> ApiAnswer:
        return await self._post("Cancel", {"reservationId": reservation_id, "reason": reason})

    async def stop(self, reservation_id: str) -> ApiAnswer:
        return await self._post("Stop", {"reservationId": reservation_id})

    async def resume(self, reservation_id: str) -> ApiAnswer:
        return await self._post("Resume", {"reservationId": reservation_id}, quick=True)

    async def status(self, reservation_id: str) -> ApiAnswer:
        return await self._call(
            "GET", "Status", params={"reservationId": reservation_id}, quick=True
        )

    async def _post(self, action: str, body: dict[str, Any], *, quick: bool = False) -> ApiAnswer:
        return await self._call("POST", action, json=body, quick=quick)

    async def _call(
        self,
        method: str,
        action: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        quick: bool = False,
    ) -> ApiAnswer:
        timeout = self._timeout if quick else max(self._timeout, ACTION_TIMEOUT)
        try:
            response = await self._http().request(
                method, f"/API/Payments/{action}", json=json, params=params, timeout=timeout
            )
        except httpx.HTTPError as error:
            logger.warning("server API: Payments/%s failed: %s", action, error or type(error))
            return ApiAnswer(0, {"status": UNREACHABLE})
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            logger.warning("server API: Payments/%s answered %d", action, response.status_code)
            body = {"status": "BadAnswer"}
        return ApiAnswer(response.status_code, body)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
