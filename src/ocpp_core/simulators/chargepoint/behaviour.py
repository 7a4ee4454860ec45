"""What a charger does, independent of the connection and the OCPP version.

Server requests arrive in two steps: a synchronous decision (so the reply can be
sent first and two requests cannot both claim the same connector) and an async
follow-up that sends the resulting messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from .config import ConfigStore
from .link import ChargerLink, LinkError
from .local_list import ListUpdate, LocalAuthList
from .maintenance import Maintenance
from .model import (
    IDLE,
    AvailabilityOutcome,
    BootResult,
    Connector,
    ConnectorStatus,
    FinishedTransaction,
    Meter,
    Registration,
    Reservation,
    ReserveOutcome,
    SampleContext,
    SimClock,
    StopReason,
    Transaction,
    Trigger,
    utc_now,
)
from .profiles import InstalledProfiles
from .settings import ChargerSettings

LOGGER = logging.getLogger("ocpp_core.simulator")

_PLUGGABLE = frozenset({ConnectorStatus.AVAILABLE, ConnectorStatus.RESERVED})
_STARTABLE = _PLUGGABLE | {ConnectorStatus.PREPARING}


class ChargerBehaviour:
    """Connector state machine, sessions and meter reporting of one charger."""

    def __init__(self, settings: ChargerSettings) -> None:
        self.settings = settings
        self.id = settings.charger_id
        self.config = ConfigStore.defaults(settings)
        self.clock = SimClock(settings.speed)
        self.connectors = {
            number: Connector(number, Meter(settings.power_w, settings.battery_wh))
            for number in range(1, settings.connectors + 1)
        }
        self.operative = True
        self.charging_profiles = InstalledProfiles()
        self.local_list = LocalAuthList()
        self._link: ChargerLink | None = None
        self._ready: ChargerLink | None = None
        self._unsent_stops: list[FinishedTransaction] = []
        self._stops_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session_ended: dict[int, asyncio.Event] = {}
        self._changed = asyncio.Event()
        self._reconnect_now = False
        self.maintenance = Maintenance(self.id, lambda: self._ready)

    # -- observing -------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate`` holds; it is re-checked on every state change.

        Bound it with ``asyncio.timeout`` in the caller.
        """
        while not predicate():
            await self._changed.wait()

    async def wait_for_status(self, connector_id: int, status: ConnectorStatus) -> None:
        connector = self.connector(connector_id)
        await self.wait_for(lambda: connector.status is status)

    def connector(self, connector_id: int) -> Connector:
        try:
            return self.connectors[connector_id]
        except KeyError:
            raise ValueError(f"{self.id} has no connector {connector_id}") from None

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Background work owned by the charger, so ``stop()`` can cancel it."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            LOGGER.error("%s: background task failed", self.id, exc_info=exc)

    # -- status ------------------------------------------------------------

    def _idle_status(self, connector: Connector) -> ConnectorStatus:
        """Free again: Reserved while a reservation still holds it (a car plugged in and
        left without using it), else Available."""
        if not (self.operative and connector.operative):
            return ConnectorStatus.UNAVAILABLE
        if connector.reservation is not None:
            return ConnectorStatus.RESERVED
        return ConnectorStatus.AVAILABLE

    async def _set_status(self, connector: Connector, status: ConnectorStatus) -> None:
        """Record the status and report it when booted; otherwise the next boot does."""
        if connector.status is status:
            return
        connector.status = status
        self._notify()
        await self._report(connector.connector_id)

    async def _report(self, connector_id: int) -> None:
        link = self._ready
        if link is None:
            return
        if connector_id == 0:
            status = ConnectorStatus.AVAILABLE if self.operative else ConnectorStatus.UNAVAILABLE
        else:
            status = self.connectors[connector_id].status
        try:
            await link.status(connector_id, status)
        except LinkError as exc:
            LOGGER.warning("%s: StatusNotification %s failed: %s", self.id, status, exc)

    async def report_all(self) -> None:
        for connector_id in range(len(self.connectors) + 1):
            await self._report(connector_id)

    def _status_ids(self, connector_id: int | None) -> list[int]:
        """Connector 0 stands for the charger itself; ``None`` means all of them."""
        if connector_id is None:
            return list(range(len(self.connectors) + 1))
        return [connector_id]

    async def send_boot(self, link: ChargerLink) -> BootResult:
        result = await link.boot()
        if result.status is Registration.ACCEPTED and result.interval > 0:
            self.config.assign("HeartbeatInterval", result.interval)
        return result

    # -- local (EV / user) actions -------------------------------------------

    async def plug_in(self, connector_id: int) -> bool:
        """An EV arrives, at a free or reserved connector: Preparing lets a server start
        a session waiting for it, and a remote start waiting for the car goes on."""
        connector = self.connector(connector_id)
        if connector.status not in _PLUGGABLE:
            return False
        await self._set_status(connector, ConnectorStatus.PREPARING)
        return True

    async def unplug(
        self, connector_id: int, reason: StopReason = StopReason.EV_DISCONNECTED
    ) -> None:
        """The EV leaves: any running session ends and the outlet is free again."""
        connector = self.connector(connector_id)
        await self._end_session(connector, reason)
        await self._set_status(connector, self._idle_status(connector))

    async def start_local(self, connector_id: int, id_tag: str) -> int | None:
        """Plug in and present a tag at the charger; returns the transaction id."""
        connector = self.connector(connector_id)
        if not self._claim(connector, id_tag):
            return None
        return await self._start_session(connector, id_tag, authorize=True)

    # -- server requests ---------------------------------------------------

    def _claim(self, connector: Connector, id_tag: str) -> bool:
        """A reserved connector starts only for its reservation's tag."""
        reservation = connector.reservation
        if reservation is not None and reservation.id_tag != id_tag:
            return False
        free = connector.status in _STARTABLE
        if not free or connector.starting or connector.transaction is not None:
            return False
        connector.starting = True
        self._notify()
        return True

    def claim_remote_start(self, connector_id: int | None, id_tag: str) -> Connector | None:
        """Hold the requested connector, or by default the first one with an EV
        plugged in (Preparing), else the first Available one."""
        if connector_id is None:
            candidates = sorted(
                self.connectors.values(), key=lambda c: c.status is not ConnectorStatus.PREPARING
            )
        elif connector_id in self.connectors:
            candidates = [self.connectors[connector_id]]
        else:
            return None
        return next((c for c in candidates if self._claim(c, id_tag)), None)

    async def remote_start(self, connector: Connector, id_tag: str) -> None:
        """With the car plugged in (Preparing) the session starts at once; otherwise the
        charger waits for the car up to ``ConnectionTimeOut``, holding the connector
        (and its reservation, if any) for this start, and gives up if none comes."""
        if connector.status is not ConnectorStatus.PREPARING and not await self._car_arrives(
            connector
        ):
            LOGGER.info("%s: no car on connector %d in time", self.id, connector.connector_id)
            connector.starting = False
            self._notify()
            return
        authorize = self.config.flag("AuthorizeRemoteTxRequests")
        await self._start_session(connector, id_tag, authorize=authorize)

    async def _car_arrives(self, connector: Connector) -> bool:
        """The connector keeps its status meanwhile: Available or Reserved, as 2.0.1 has it."""
        if self.settings.plug_in_after is not None:
            self.spawn(self._driver_plugs_in(connector, self.settings.plug_in_after))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.number("ConnectionTimeOut")):
                await self.wait_for(lambda: connector.status is ConnectorStatus.PREPARING)
                return True
        return False

    async def _driver_plugs_in(self, connector: Connector, after: float) -> None:
        """The simulated driver who asked for the start walks to the car and plugs it in."""
        await asyncio.sleep(after)
        if connector.starting:
            await self.plug_in(connector.connector_id)

    def claim_remote_stop(self, transaction_id: int) -> Connector | None:
        for connector in self.connectors.values():
            tx = connector.transaction
            if tx is not None and tx.transaction_id == transaction_id and not tx.stopping:
                tx.stopping = True
                return connector
        return None

    async def remote_stop(self, connector: Connector) -> None:
        """The EV stays plugged for a moment (Finishing) before the driver leaves."""
        if await self._end_session(connector, StopReason.REMOTE):
            await self._set_status(connector, ConnectorStatus.FINISHING)
            self.spawn(self._release_after_unplug(connector))

    async def _release_after_unplug(self, connector: Connector) -> None:
        await asyncio.sleep(self.settings.unplug_after)
        if connector.status is ConnectorStatus.FINISHING:
            await self._set_status(connector, self._idle_status(connector))

    def availability_outcome(self, connector_id: int) -> AvailabilityOutcome:
        if connector_id != 0 and connector_id not in self.connectors:
            return AvailabilityOutcome.REJECTED
        if any(c.transaction for c in self._affected(connector_id)):
            return AvailabilityOutcome.SCHEDULED
        return AvailabilityOutcome.ACCEPTED

    def _affected(self, connector_id: int) -> list[Connector]:
        if connector_id == 0:
            return list(self.connectors.values())
        return [self.connectors[connector_id]]

    async def change_availability(self, connector_id: int, operative: bool) -> None:
        """Busy connectors keep going; they pick up the change once idle again."""
        if connector_id == 0:
            self.operative = operative
            await self._report(0)
        else:
            self.connectors[connector_id].operative = operative
        for connector in self._affected(connector_id):
            if connector.status in IDLE:
                await self._set_status(connector, self._idle_status(connector))

    async def reset(self, hard: bool) -> None:
        """End sessions, then drop the socket; the connection loop reboots at once."""
        reason = StopReason.HARD_RESET if hard else StopReason.SOFT_RESET
        for connector in self.connectors.values():
            await self._end_session(connector, reason)
            connector.status = self._idle_status(connector)
        self._notify()
        self._reconnect_now = True
        if self._link is not None:
            await self._link.close()

    async def trigger(self, what: Trigger, connector_id: int | None) -> None:
        link = self._ready
        if link is None:
            return
        try:
            await self._send_triggered(link, what, connector_id)
        except LinkError as exc:
            LOGGER.warning("%s: triggered %s failed: %s", self.id, what, exc)

    async def _send_triggered(
        self, link: ChargerLink, what: Trigger, connector_id: int | None
    ) -> None:
        if what is Trigger.BOOT:
            await self.send_boot(link)
        elif what is Trigger.HEARTBEAT:
            await link.heartbeat()
        elif what is Trigger.STATUS:
            for number in self._status_ids(connector_id):
                await self._report(number)
        elif what is Trigger.FIRMWARE_STATUS:
            await self.maintenance.report_firmware()
        elif what is Trigger.UPLOAD_STATUS:
            await self.maintenance.report_upload()
        else:
            for connector in self._affected(connector_id or 0):
                await self._send_sample(link, connector, SampleContext.TRIGGER)

    # -- reservations --------------------------------------------------------

    def reserve(self, connector_id: int, reservation: Reservation) -> ReserveOutcome:
        """Hold a free connector for a tag; like most chargers, not "any connector" (0)."""
        connector = self.connectors.get(connector_id)
        if connector is None:
            return ReserveOutcome.REJECTED
        held = connector.reservation
        if held is not None and held.reservation_id != reservation.reservation_id:
            return ReserveOutcome.OCCUPIED
        if not (self.operative and connector.operative):
            return ReserveOutcome.UNAVAILABLE
        if connector.status not in {ConnectorStatus.AVAILABLE, ConnectorStatus.RESERVED}:
            return ReserveOutcome.OCCUPIED
        self.cancel_reservation(reservation.reservation_id)  # the same id again replaces it
        connector.reservation = reservation
        return ReserveOutcome.ACCEPTED

    async def hold(self, connector_id: int) -> None:
        """Show the connector Reserved, and end its reservation when it expires."""
        connector = self.connectors[connector_id]
        reservation = connector.reservation
        if reservation is None:
            return
        await self._set_status(connector, ConnectorStatus.RESERVED)
        self.spawn(self._expire(connector, reservation))

    async def _expire(self, connector: Connector, reservation: Reservation) -> None:
        # The central system set the expiry by its own clock, which a sped-up charger's isn't.
        left = (reservation.expires_at - utc_now()).total_seconds()
        await asyncio.sleep(max(0.0, left))
        if connector.reservation is not reservation:
            return  # used or cancelled meanwhile
        connector.reservation = None
        await self.release(connector)
        link = self._ready
        if link is not None:
            try:
                await link.reservation_expired(reservation.reservation_id)
            except LinkError as exc:
                LOGGER.warning("%s: reservation update failed: %s", self.id, exc)

    def cancel_reservation(self, reservation_id: int) -> Connector | None:
        """Drop the reservation; the connector it held, or None if there was none."""
        for connector in self.connectors.values():
            held = connector.reservation
            if held is not None and held.reservation_id == reservation_id:
                connector.reservation = None
                return connector
        return None

    async def release(self, connector: Connector) -> None:
        if connector.status is ConnectorStatus.RESERVED and connector.reservation is None:
            await self._set_status(connector, self._idle_status(connector))

    def update_local_list(
        self, version: int, *, full: bool, changes: Mapping[str, str | None]
    ) -> ListUpdate:
        """A SendLocalList; the list may hold ``LocalAuthListMaxLength`` entries."""
        longest = int(self.config.number("LocalAuthListMaxLength"))
        return self.local_list.update(version, full=full, changes=changes, max_length=longest)

    # -- sessions ----------------------------------------------------------

    async def _authorize(self, id_tag: str) -> bool:
        link = self._ready
        if link is None:
            return False
        try:
            return await link.authorize(id_tag)
        except LinkError as exc:
            LOGGER.warning("%s: Authorize failed: %s", self.id, exc)
            return False

    async def _start_session(
        self, connector: Connector, id_tag: str, authorize: bool
    ) -> int | None:
        """Run a claimed connector through Preparing into Charging (or back to idle)."""
        try:
            await self._set_status(connector, ConnectorStatus.PREPARING)
            transaction_id = None
            if not authorize or await self._authorize(id_tag):
                transaction_id = await self._open_transaction(connector, id_tag)
        finally:
            connector.starting = False
        if transaction_id is None:
            await self._set_status(connector, self._idle_status(connector))
            return None
        await self._set_status(connector, ConnectorStatus.CHARGING)
        ended = self._session_ended[connector.connector_id] = asyncio.Event()
        self.spawn(self._meter_loop(connector, ended))
        return transaction_id

    async def _open_transaction(self, connector: Connector, id_tag: str) -> int | None:
        link = self._ready
        if link is None:
            LOGGER.warning("%s: cannot start a session while offline", self.id)
            return None
        meter_start = connector.meter_wh
        reservation = connector.reservation
        reservation_id = None if reservation is None else reservation.reservation_id
        try:
            result = await link.start_transaction(
                connector.connector_id, id_tag, meter_start, reservation_id
            )
        except LinkError as exc:
            LOGGER.warning("%s: StartTransaction failed: %s", self.id, exc)
            return None
        if not result.accepted:
            LOGGER.info("%s: id tag refused by the server", self.id)
            return None
        connector.reservation = None  # used: the session holds the connector now
        transaction = Transaction(result.transaction_id, id_tag, meter_start)
        connector.open_transaction(transaction, self.settings.initial_soc, self.clock.seconds())
        LOGGER.info("%s: transaction %d started", self.id, result.transaction_id)
        return result.transaction_id

    async def _meter_loop(self, connector: Connector, ended: asyncio.Event) -> None:
        """Runs until ``ended``; it is never cancelled mid-request, because a reply
        arriving after cancellation would be mistaken for the next request's."""
        while True:
            interval = self.config.number("MeterValueSampleInterval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), interval if interval > 0 else 1.0)
            if ended.is_set():
                return
            connector.meter.advance(self.clock.seconds())
            link = self._ready
            if interval > 0 and link is not None:
                await self._send_sample(link, connector, SampleContext.PERIODIC)
            full = connector.meter.power_w == 0 and not ended.is_set()
            if full and connector.status is ConnectorStatus.CHARGING:
                await self._set_status(connector, ConnectorStatus.SUSPENDED_EV)

    async def _send_sample(
        self, link: ChargerLink, connector: Connector, context: SampleContext
    ) -> None:
        tx = connector.transaction
        sample = connector.meter.sample(self.clock)
        try:
            await link.meter_values(
                connector.connector_id, tx.transaction_id if tx else None, sample, context
            )
        except LinkError as exc:
            LOGGER.warning("%s: MeterValues failed: %s", self.id, exc)

    async def _end_session(self, connector: Connector, reason: StopReason) -> bool:
        ended = self._session_ended.pop(connector.connector_id, None)
        if ended is not None:
            ended.set()
        closed = connector.close_transaction(self.clock)
        if closed is None:
            return False
        self._notify()
        transaction, final = closed
        self._unsent_stops.append(
            FinishedTransaction(connector.connector_id, transaction, final, reason)
        )
        LOGGER.info("%s: transaction %d ended (%s)", self.id, transaction.transaction_id, reason)
        await self.send_unsent_stops()
        return True

    async def send_unsent_stops(self) -> None:
        """Deliver stops in order; whatever fails waits for the next boot."""
        async with self._stops_lock:
            while self._unsent_stops and (link := self._ready) is not None:
                try:
                    await link.stop_transaction(self._unsent_stops[0])
                except LinkError as exc:
                    LOGGER.warning("%s: StopTransaction failed, kept for later: %s", self.id, exc)
                    return
                self._unsent_stops.pop(0)

    async def end_all_sessions(self, reason: StopReason) -> None:
        for connector in self.connectors.values():
            await self._end_session(connector, reason)

    def diagnostics(self) -> bytes:
        """What the charger uploads as its log: its connectors as they are now."""
        lines = [f"{self.id} diagnostics at {self.clock.now().isoformat()}"]
        lines += [f"connector {c.connector_id}: {c.status}" for c in self.connectors.values()]
        return ("\n".join(lines) + "\n").encode()
