"""The management app's view of the server: its HTTP API, called with ``X-API-Key``.

Only the fields the pages use are read; anything else the server adds is
ignored, so the two apps can be upgraded one after the other.
"""

from __future__ import annotations

import logging
from datetime import datetime

import httpx
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

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
    connectors: list[LiveConnector] = []


_STATUS = TypeAdapter(list[LiveCharger])


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
                base_url=self._base_url, headers=self._headers, timeout=self._timeout
            )
        return self._client

    async def status(self) -> list[LiveCharger] | None:
        """The connected chargers, or None when the server can't be asked."""
        try:
            response = await self._http().get("/API/Status")
            response.raise_for_status()
            chargers = _STATUS.validate_json(response.content)
        except (httpx.HTTPError, ValidationError) as error:
            self._note(reachable=False, error=error)
            return None
        self._note(reachable=True)
        return chargers

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
