"""A charger's side of the domain: what its boot, authorizations, transactions, meter values
and status changes do, in every OCPP version.

The protocol adapters translate payloads into these calls and the results back into their
version's answers; everything that stores, decides or publishes is here, once. Each call is
one unit of work (or a place in a group commit), and its events are published only after
that commit: the payments never follow a start the database does not hold, and a replayed
message publishes its events again (see :mod:`.events`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.config import Settings
from ocpp_core.db.models import Transaction
from ocpp_core.db.session import Database
from ocpp_core.domain import (
    authorization,
    chargepoints,
    charging_notices,
    connectors,
    events,
    firmware,
    log_uploads,
    meter_batches,
    metering,
    reports,
    reservations,
    transactions,
)
from ocpp_core.domain.authorization import Authorization, AuthStatus
from ocpp_core.domain.messagelog import LogEntry, MessageLog
from ocpp_core.domain.meter import MeterReading

Readings = list[tuple[datetime, MeterReading]]


class ChargingParts(Protocol):
    """What the service needs of the server it runs in (the runtime has all of it)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def db(self) -> Database: ...
    @property
    def events(self) -> events.EventBus: ...
    @property
    def message_log(self) -> MessageLog: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...


@dataclass(frozen=True, slots=True)
class Charging:
    """The service for one charger's messages."""

    parts: ChargingParts
    charge_point_id: str

    def now(self) -> datetime:
        return self.parts.clock()

    async def boot(self, info: chargepoints.BootInfo, *, protocol: str) -> datetime:
        """Record the boot (with the chargers booting at the same moment); the time told."""
        now = self.now()
        await self.parts.db.group_execute(
            chargepoints.BOOT,
            chargepoints.boot_parameters(self.charge_point_id, info, protocol=protocol, now=now),
        )
        return now

    async def authorize(self, tag: str) -> Authorization:
        # No ConcurrentTx here: a tag is also authorized to *stop* its running transaction.
        async with self.parts.db.session() as session:
            return await authorization.authorize(session, tag, now=self.now())

    async def record_progress(self, kind: str, status: str, request_id: int | None) -> None:
        """A firmware or log/diagnostics upload's progress: beside the charger, and on the
        request it is about (see :mod:`.progress`)."""
        now = self.now()
        on_request = firmware.record_status if kind == "firmware" else log_uploads.record_status
        async with self.parts.db.session() as session:
            await chargepoints.record_firmware_status(
                session, self.charge_point_id, status=status, kind=kind, now=now
            )
            await on_request(session, self.charge_point_id, status, request_id, now=now)

    async def store_report(self, part: reports.ReportPart) -> None:
        async with self.parts.db.session() as session:
            await reports.store(session, part, now=self.now())

    async def store_notice(self, notice: charging_notices.Notice) -> None:
        async with self.parts.db.session() as session:
            await charging_notices.store(session, self.charge_point_id, notice, now=self.now())

    async def start(self, begin: transactions.TransactionStart) -> tuple[int, Authorization]:
        """A transaction's start, told once (1.6's StartTransaction): its id and the answer.

        A replay finds the row the first one made; its start is published again, since
        the first answer may have been an error because the payments could not reach
        the database to follow it.
        """
        async with self.parts.db.session() as session:
            row = await transactions.find_replay(session, begin)
            if row is not None:
                auth = Authorization(AuthStatus(row.start_result))
            else:
                auth = await self.authorize_start(session, begin.tag, begin.connector_id)
                row = await transactions.start(session, begin, result=auth.status.value)
                await self.use_reservation(session, row, auth, begin.reservation_id)
                await self._record_start_reading(session, begin)
        await self.publish_started(row, accepted=auth.status is AuthStatus.ACCEPTED)
        return row.id, auth

    async def stop(
        self,
        transaction_id: int,
        *,
        tag: str | None,
        stopped_at: datetime,
        meter_stop_wh: int | None,
        reason: str,
        readings: Readings,
    ) -> Authorization | None:
        """A transaction's stop, told once (1.6's StopTransaction); None: no tag to answer for.

        Chargers replay queued stops: one for a transaction not open here changes
        nothing and answers only for its tag.
        """
        async with self.parts.db.session() as session:
            row = await transactions.find_open(session, self.charge_point_id, transaction_id)
            if row is None:
                if tag is None:
                    return None
                return await authorization.authorize(session, tag, now=self.now())
            end = transactions.TransactionStop(
                charge_point_id=self.charge_point_id,
                transaction_id=row.id,
                tag=tag,
                stopped_at=stopped_at,
                meter_stop_wh=meter_stop_wh,
                reason=reason,
            )
            auth = await self.finish(session, row, end, readings)
        await self.publish_stopped(row)
        return auth if tag is not None else None

    async def store_readings(
        self,
        connector_id: int,
        transaction_id: int | None,
        readings: Readings,
        *,
        log_entry: LogEntry,
    ) -> None:
        """A MeterValues message: applied together with other chargers' (they come often).

        Its answer is empty in every version and known before anything is stored, so its
        message-log row goes into the same transaction as its readings (the adapter
        lists it in ``logged_by_handler``): one commit answers it, not two in a row.
        """
        message = meter_batches.MeterMessage(
            self.charge_point_id,
            connector_id,
            transaction_id,
            readings,
            max_power_w=self._max_power_w,
            received_at=log_entry.logged_at,
            log_row=self.parts.message_log.row(log_entry),
        )
        at_limit = await self.parts.db.group_batch(meter_batches.apply_messages, message)
        await self.publish_limits(connector_id, at_limit)

    async def record_status(
        self, connector_id: int, status: str, error_code: str | None, at: datetime
    ) -> None:
        await self.parts.db.group_commit(
            partial(
                connectors.record_status,
                charge_point_id=self.charge_point_id,
                connector_id=connector_id,
                status=status,
                error_code=error_code,
                at=at,
            )
        )
        await self.parts.events.publish(
            events.ConnectorStatusChanged(self.charge_point_id, connector_id, status, at)
        )

    async def record_plug_status(
        self, position: int, plug: int, status: str, at: datetime
    ) -> tuple[list[str], str | None]:
        """One plug's status (2.x); every plug's of its position and the position's status."""
        async with self.parts.db.session() as session:
            plugs = await connectors.record_plug_status(
                session, self.charge_point_id, position, plug, status=status, at=at
            )
            current = await connectors.find(session, self.charge_point_id, position)
        return plugs, current.status if current is not None else None

    # The steps of a transaction's messages, for the adapters whose transactions are
    # told in several messages (2.x's TransactionEvent), inside their unit of work.

    async def authorize_start(
        self, session: AsyncSession, tag: str, position: int | None
    ) -> Authorization:
        """The answer for a start by ``tag`` on ``position`` (None: unknown, so unreserved)."""
        now = self.now()
        auth = await authorization.authorize(
            session, tag, now=now, deny_concurrent=self.parts.settings.ocpp.deny_concurrent_tx
        )
        if position is None:
            return auth
        return await reservations.admit(session, self.charge_point_id, position, tag, auth, now=now)

    async def use_reservation(
        self,
        session: AsyncSession,
        row: Transaction,
        auth: Authorization,
        reservation_id: int | None,
    ) -> None:
        """An accepted start ends the operator's reservation it was made under."""
        if auth.status is not AuthStatus.ACCEPTED:
            return
        await reservations.use(
            session,
            self.charge_point_id,
            row.connector_id,
            tag=row.start_tag,
            auth=auth,
            reservation_id=reservation_id,
            transaction_id=row.id,
            now=self.now(),
        )

    async def end_reservation(
        self, reservation_id: int, ending: reservations.ReservationStatus
    ) -> None:
        """The charger ended an operator's reservation itself (expired, or removed)."""
        async with self.parts.db.session() as session:
            await reservations.end_by_charger(
                session, self.charge_point_id, reservation_id, ending, now=self.now()
            )

    async def apply_readings(
        self,
        session: AsyncSession,
        connector_id: int,
        transaction_id: int | None,
        readings: Readings,
    ) -> dict[int, int]:
        """Apply each reading; the energy of each open transaction that reached its limit."""
        at_limit: dict[int, int] = {}
        for sampled_at, reading in readings:
            applied = await metering.apply_reading(
                session,
                metering.ReadingAt(
                    self.charge_point_id, connector_id, transaction_id, reading, sampled_at
                ),
                max_power_w=self._max_power_w,
                now=self.now(),
            )
            if applied.transaction_id is not None and applied.limit_reached_wh is not None:
                at_limit[applied.transaction_id] = applied.limit_reached_wh
        return at_limit

    async def finish(
        self,
        session: AsyncSession,
        row: Transaction,
        end: transactions.TransactionStop,
        readings: Readings,
    ) -> Authorization:
        """Apply the readings sent with the stop, then close the transaction.

        It closes even when the stop tag is refused: the charger has stopped either way.
        """
        await self.apply_readings(session, row.connector_id, row.id, readings)
        auth = await authorization.authorize_stop(
            session, start_tag=row.start_tag, stop_tag=end.tag, now=self.now()
        )
        await transactions.close(session, row, end, max_power_w=self._max_power_w)
        return auth

    async def publish_started(self, row: Transaction, *, accepted: bool) -> None:
        await self.parts.events.publish(
            events.TransactionStarted(
                self.charge_point_id,
                row.connector_id,
                row.id,
                row.start_tag,
                row.start_at,
                accepted,
                row.remote_start_id,
            )
        )

    async def publish_limits(self, connector_id: int, at_limit: dict[int, int]) -> None:
        for transaction_id, energy_wh in at_limit.items():
            await self.parts.events.publish(
                events.EnergyLimitReached(
                    self.charge_point_id, connector_id, transaction_id, energy_wh
                )
            )

    async def publish_stopped(self, row: Transaction) -> None:
        assert row.stop_at is not None
        assert row.stop_reason is not None
        await self.parts.events.publish(
            events.TransactionStopped(
                self.charge_point_id, row.connector_id, row.id, row.stop_at, row.stop_reason
            )
        )

    async def _record_start_reading(
        self, session: AsyncSession, begin: transactions.TransactionStart
    ) -> None:
        await connectors.record_reading(
            session,
            self.charge_point_id,
            begin.connector_id,
            MeterReading(begin.meter_start_wh, None, None, None, "Transaction.Begin"),
            at=begin.started_at,
        )

    @property
    def _max_power_w(self) -> int:
        return self.parts.settings.ocpp.max_charger_power_w


def registers(readings: Iterable[tuple[datetime, MeterReading]]) -> list[int]:
    """The energy registers among the readings, in the order sent."""
    return [reading.energy_wh for _, reading in readings if reading.energy_wh is not None]
