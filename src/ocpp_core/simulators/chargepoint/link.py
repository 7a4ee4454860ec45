"""The seam between charger behaviour and one OCPP version's message mapping.

The behaviour speaks only in model terms through :class:`ChargerLink`; a protocol
module turns that into wire messages and turns server requests back into calls
on the behaviour. A 2.0.1 link slots in here without touching the behaviour.
"""

from __future__ import annotations

from typing import Protocol

from .model import (
    BootResult,
    ConnectorStatus,
    FinishedTransaction,
    FirmwareStep,
    MeterSample,
    SampleContext,
    StartResult,
    UploadStep,
)


class LinkError(Exception):
    """A request did not complete: connection gone, timeout or CALLERROR.

    The behaviour treats them alike (log, fall back); only the link knows the
    library-specific exception types behind them.
    """


class ChargerLink(Protocol):
    """One live connection to the central system in some protocol version."""

    async def serve(self) -> None:
        """Handle incoming messages until the connection closes."""

    async def close(self) -> None: ...

    async def boot(self) -> BootResult: ...

    async def heartbeat(self) -> None: ...

    async def status(self, connector_id: int, status: ConnectorStatus) -> None: ...

    async def authorize(self, id_tag: str) -> bool: ...

    async def start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, reservation_id: int | None
    ) -> StartResult: ...

    async def meter_values(
        self,
        connector_id: int,
        transaction_id: int | None,
        sample: MeterSample,
        context: SampleContext,
    ) -> None: ...

    async def stop_transaction(self, finished: FinishedTransaction) -> None: ...

    async def firmware_status(self, step: FirmwareStep, request_id: int | None) -> None: ...

    async def upload_status(self, step: UploadStep, request_id: int | None) -> None: ...
    async def reservation_expired(self, reservation_id: int) -> None:
        """Tell the central system, in versions that have a message for it."""
