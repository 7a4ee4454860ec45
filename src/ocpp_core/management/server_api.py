"""The management app's view of the server: its HTTP API, called with ``X-API-Key``.

Only the fields the pages use are read; anything else the server adds is
ignored, so the two apps can be upgraded one after the other.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime
from typing import TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from ocpp_core.tls_trust import trusted

logger = logging.getLogger(__name__)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LiveConnector(_Lenient):
    connectorId: int  # noqa: N815 -- the API speaks camelCase
    status: str | None = None
    errorCode: str | None = None  # noqa: N815
    statusAt: datetime | None = None  # noqa: N815
    meterWh: int | None = None  # noqa: N815
    powerW: int | None = None  # noqa: N815
    socPercent: int | None = None  # noqa: N815


class LiveCharger(_Lenient):
    id: str
    protocol: str | None = None
    online: bool = True  # the fleet's list holds connected chargers only
    connectors: list[LiveConnector] = []


_T = TypeVar("_T")
_STATUS = TypeAdapter(list[LiveCharger])
_ONE = TypeAdapter(LiveCharger)
MAX_STATUS_IDS = 500  # the server's page: it refuses more ids in one question
_Params = dict[str, int | list[str]]


class ServerApi:
    """A client for the server's ``/API``; its connection pool lives as long as the app."""

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self._base_url = base_url
        self._headers = {"X-API-Key": api_key}
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._reachable = True

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._base_url,
                headers=self._headers,
                timeout=self._timeout,
                verify=trusted(),
            )
        return self._client

    async def status(self, charge_point_ids: Collection[str]) -> list[LiveCharger] | None:
        """Those of these chargers that are connected, or None when the server can't say.

        The server computes the answer on the loop that serves the chargers, so a page
        asks for the chargers it shows, never the fleet; at most ``MAX_STATUS_IDS``,
        which the server answers in one page. A page about one charger asks
        :meth:`status_of`, which also knows the offline ones.
        """
        if len(charge_point_ids) > MAX_STATUS_IDS:
            raise ValueError(f"at most {MAX_STATUS_IDS} chargers in one question")
        if not charge_point_ids:
            return []
        response = await self._get("/API/Status", {"chargePointId": sorted(charge_point_ids)})
        return None if response is None else self._read(response, _STATUS)

    async def status_of(self, charge_point_id: str) -> list[LiveCharger] | None:
        """The charger as the fleet's list would hold it: itself if connected, else nothing.

        None when the server can't say. An unknown charger is not connected.
        """
        response = await self._get(f"/API/Status/{quote(charge_point_id, safe='')}")
        if response is None:
            return None
        if response.status_code in (400, 404):
            return []
        charger = self._read(response, _ONE)
        if charger is None:
            return None
        return [charger] if charger.online else []

    async def reachable(self) -> bool:
        """Whether the server answers: while it does not, online states are unknown."""
        return await self._get("/API/Status", params={"limit": 1}) is not None

    async def _get(self, url: str, params: _Params | None = None) -> httpx.Response | None:
        """The server's answer, whatever its status; None when it could not be reached."""
        try:
            response = await self._http().get(url, params=params)
        except httpx.HTTPError as error:
            self._note(reachable=False, error=error)
            return None
        self._note(reachable=True)
        return response

    @staticmethod
    def _read(response: httpx.Response, adapter: TypeAdapter[_T]) -> _T | None:
        # A 503 is the server's database away: its own health log says so, not this one.
        if response.status_code != 200:
            return None
        try:
            return adapter.validate_json(response.content)
        except ValidationError as error:
            logger.warning("server API answered what this version can't read: %s", error)
            return None

    def _note(self, *, reachable: bool, error: Exception | None = None) -> None:
        # Pages poll every few seconds: log when the state changes, not on every poll.
        if reachable != self._reachable:
            if reachable:
                logger.info("server API reachable again")
            else:
                logger.warning("server API unreachable: %s", error or "?")
        self._reachable = reachable

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
