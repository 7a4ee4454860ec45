"""Firmware updates and log uploads, as a charger runs them: step by step, each step reported.

A firmware image is really downloaded when its location is HTTP(S) (and thrown
away: nothing is installed); other schemes are taken as fetched. A log is really
uploaded over HTTP: 1.6 chargers commonly PUT the file to the location with its
name appended, 2.0.1 ones POST it as the ``file`` field of a form.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx

from ocpp_core.tls_trust import trusted

from .link import ChargerLink, LinkError
from .model import FirmwareStep, UploadStep

LOGGER = logging.getLogger("ocpp_core.simulator")
MAX_FIRMWARE_BYTES = 64 * 1024 * 1024
TRANSFER_TIMEOUT = 30.0
# The steps after which an update is over (done, failed, or none yet).
_OVER = (FirmwareStep.DOWNLOAD_FAILED, FirmwareStep.INSTALLED, FirmwareStep.IDLE)


class Maintenance:
    """One charger's firmware and log state: at most one of each in progress."""

    def __init__(self, charger_id: str, link: Callable[[], ChargerLink | None]) -> None:
        self.charger_id = charger_id
        self._link = link
        self.firmware = FirmwareStep.IDLE
        self.firmware_request: int | None = None
        self.upload = UploadStep.IDLE
        self.upload_request: int | None = None

    # -- firmware ------------------------------------------------------------------

    def claim_firmware(self, request_id: int | None) -> bool:
        """Take an update unless one is running (a finished or failed one is over)."""
        if self.firmware not in _OVER:
            return False
        self.firmware, self.firmware_request = FirmwareStep.DOWNLOAD_SCHEDULED, request_id
        return True

    async def update_firmware(self, location: str, retrieve_at: datetime) -> None:
        wait = (retrieve_at - datetime.now(UTC)).total_seconds()
        await self._firmware_step(FirmwareStep.DOWNLOAD_SCHEDULED)
        if wait > 0:
            await asyncio.sleep(wait)
        await self._firmware_step(FirmwareStep.DOWNLOADING)
        if not await _download(location):
            await self._firmware_step(FirmwareStep.DOWNLOAD_FAILED)
            return
        for step in (FirmwareStep.DOWNLOADED, FirmwareStep.INSTALLING, FirmwareStep.INSTALLED):
            await self._firmware_step(step)

    async def _firmware_step(self, step: FirmwareStep) -> None:
        self.firmware = step
        await self._tell(lambda link: link.firmware_status(step, self.firmware_request))

    async def report_firmware(self) -> None:
        """A triggered FirmwareStatusNotification: Idle once an update is over."""
        step = FirmwareStep.IDLE if self.firmware in _OVER else self.firmware
        await self._tell(lambda link: link.firmware_status(step, self.firmware_request))

    # -- logs ----------------------------------------------------------------------

    def claim_upload(self, request_id: int | None) -> bool:
        if self.upload is UploadStep.UPLOADING:
            return False
        self.upload, self.upload_request = UploadStep.UPLOADING, request_id
        return True

    def log_name(self) -> str:
        return f"{self.charger_id}-{self.upload_request or 'diagnostics'}.log"

    async def upload_log(self, location: str, content: bytes, *, as_form: bool) -> None:
        await self._upload_step(UploadStep.UPLOADING)
        name = self.log_name()
        try:
            async with httpx.AsyncClient(timeout=TRANSFER_TIMEOUT, verify=trusted()) as http:
                if as_form:
                    response = await http.post(location, files={"file": (name, content)})
                else:
                    response = await http.put(f"{location.rstrip('/')}/{name}", content=content)
            uploaded = response.is_success
        except httpx.HTTPError as exc:
            LOGGER.warning("%s: log upload to %s failed: %s", self.charger_id, location, exc)
            uploaded = False
        await self._upload_step(UploadStep.UPLOADED if uploaded else UploadStep.FAILED)

    async def _upload_step(self, step: UploadStep) -> None:
        self.upload = step
        await self._tell(lambda link: link.upload_status(step, self.upload_request))

    async def report_upload(self) -> None:
        step = UploadStep.UPLOADING if self.upload is UploadStep.UPLOADING else UploadStep.IDLE
        await self._tell(lambda link: link.upload_status(step, self.upload_request))

    async def _tell(self, send: Callable[[ChargerLink], Awaitable[None]]) -> None:
        link = self._link()
        if link is None:
            return
        try:
            await send(link)
        except LinkError as exc:
            LOGGER.warning("%s: status notification failed: %s", self.charger_id, exc)


async def _download(location: str) -> bool:
    if not location.startswith(("http://", "https://")):
        return True  # FTP and the like: taken as fetched
    received = 0
    try:
        async with (
            httpx.AsyncClient(timeout=TRANSFER_TIMEOUT, verify=trusted()) as http,
            http.stream("GET", location) as response,
        ):
            if not response.is_success:
                return False
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > MAX_FIRMWARE_BYTES:
                    return False
    except httpx.HTTPError as exc:
        LOGGER.warning("firmware download from %s failed: %s", location, exc)
        return False
    return True
