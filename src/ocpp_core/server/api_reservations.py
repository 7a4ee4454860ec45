"""``/API/ReserveNow``, ``/API/CancelReservation`` and ``/API/Reservations``: operators'
reservations of a connector for a tag.

A reservation is stored before its ReserveNow goes out and keeps the charger's answer
as its status, so the list shows what each charger was told and what it said. The
answers carry the charger's word (``status``) and the reservation as stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ocpp_core.db.models import ChargePoint, ChargerReservation
from ocpp_core.domain import authorization, commands, reservations
from ocpp_core.domain.command_errors import RouteUnavailable
from ocpp_core.domain.reservations import ReservationStatus
from ocpp_core.domain.tags import MAX_TAG_LENGTH
from ocpp_core.params import MAX_DB_INT
from ocpp_core.payments import reservations as paid_sessions
from ocpp_core.runtime import Runtime
from ocpp_core.server.api_auth import ApiError, RuntimeDep, api_router
from ocpp_core.server.api_commands import send, status_of

router = api_router("reservations")

# Further ahead than this, a reservation is a booking system's job, not a charger's.
MAX_AHEAD = timedelta(days=7)
MAX_PAGE = 500

# OCPP 2.0.1's ConnectorEnumType: what a reservation by connector type may name.
ConnectorType = Literal[
    "cCCS1",
    "cCCS2",
    "cG105",
    "cTesla",
    "cType1",
    "cType2",
    "s309-1P-16A",
    "s309-1P-32A",
    "s309-3P-16A",
    "s309-3P-32A",
    "sBS1361",
    "sCEE-7-7",
    "sType2",
    "sType3",
    "Other1PhMax16A",
    "Other1PhOver16A",
    "Other3Ph",
    "Pan",
    "wInductive",
    "wResonant",
    "Undetermined",
    "Unknown",
]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ReserveBody(_Model):
    charge_point_id: str = Field(min_length=1, max_length=100)
    connector_id: int = Field(ge=0, le=1000, description="Connector (2.0.1: EVSE); 0 for any")
    connector_type: ConnectorType | None = Field(
        default=None, description="2.0.1 only: a plug of this type"
    )
    id_tag: str = Field(min_length=1, max_length=MAX_TAG_LENGTH)
    expiry_date_time: AwareDatetime = Field(description="Within 7 days from now")
    created_by: str = Field(default="API", min_length=1, max_length=100)


class CancelBody(_Model):
    reservation_id: int = Field(ge=1, le=MAX_DB_INT)


class ReservationOut(_Model):
    reservation_id: int
    charge_point_id: str
    connector_id: int
    connector_type: str | None
    id_tag: str
    parent_id_tag: str | None
    expiry_date_time: datetime
    status: ReservationStatus
    created_by: str
    created_at: datetime
    updated_at: datetime
    transaction_id: int | None
    payment_reservation_id: str | None = Field(
        default=None, description="The paid session this reservation holds the connector for"
    )

    @classmethod
    def of(cls, row: ChargerReservation) -> ReservationOut:
        return cls(
            reservation_id=row.id,
            charge_point_id=row.charge_point_id,
            connector_id=row.connector_id,
            connector_type=row.connector_type,
            id_tag=row.id_tag,
            parent_id_tag=row.parent_id_tag,
            expiry_date_time=row.expires_at,
            status=ReservationStatus(row.status),
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            transaction_id=row.transaction_id,
            payment_reservation_id=row.payment_reservation_id,
        )


class ReservationAnswer(_Model):
    status: str = Field(description="The charger's answer, or Timeout, Rejected, NotSupported")
    error: str | None = None
    description: str | None = None
    reservation: ReservationOut


class ReservationPage(_Model):
    total: int
    reservations: list[ReservationOut]


@router.post("/ReserveNow")
async def reserve_now(runtime: RuntimeDep, body: ReserveBody) -> ReservationAnswer:
    """Reserve a connector for a tag (and the tags of its parent) until the expiry."""
    command = await _store(runtime, body)
    try:
        result = await send(runtime, body.charge_point_id, command)
    except (ApiError, RouteUnavailable):
        await _settle(runtime, command.reservation_id, ReservationStatus.FAILED)
        raise
    row = await _settle(runtime, command.reservation_id, reservations.answered(result))
    return ReservationAnswer(**status_of(result), reservation=ReservationOut.of(row))


@router.post("/CancelReservation")
async def cancel_reservation(runtime: RuntimeDep, body: CancelBody) -> ReservationAnswer:
    """Cancel a live reservation at its charger; the charger's answer and what is stored."""
    async with runtime.db.session() as session:
        await reservations.expire_due(session, now=runtime.clock())
        row = await reservations.get(session, body.reservation_id)
        if row is None:
            raise ApiError(404, "NoReservation", reservationId=body.reservation_id)
        if ReservationStatus(row.status) not in reservations.ACTIVE:
            raise ApiError(409, "NotActive", reservation=_json(row))
        charge_point_id = row.charge_point_id
    result = await send(runtime, charge_point_id, commands.CancelReservation(body.reservation_id))
    ending = ReservationStatus.CANCELLED if reservations.cancelled(result) else None
    row = await _settle(runtime, body.reservation_id, ending)
    return ReservationAnswer(**status_of(result), reservation=ReservationOut.of(row))


@router.get("/Reservations")
async def list_reservations(
    runtime: RuntimeDep,
    cp: Annotated[str | None, Query(max_length=100, description="Charge point id")] = None,
    active: Annotated[bool, Query(description="Only those holding a connector now")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
) -> ReservationPage:
    """Reservations, newest first: every state, or (``active=true``) the live ones."""
    where = reservations.ReservationFilter(cp, active, limit, offset)
    async with runtime.db.session() as session:
        rows, total = await reservations.search(session, where, now=runtime.clock())
        return ReservationPage(total=total, reservations=[ReservationOut.of(r) for r in rows])


async def _store(runtime: Runtime, body: ReserveBody) -> commands.ReserveNow:
    now = runtime.clock()
    if not now < body.expiry_date_time <= now + MAX_AHEAD:
        raise ApiError(400, "InvalidExpiry", error="expiryDateTime must be within 7 days from now")
    cp, connector = body.charge_point_id, body.connector_id
    async with runtime.db.session() as session:
        if await session.get(ChargePoint, cp) is None:
            raise ApiError(404, "UnknownChargePoint", chargePointId=cp)
        auth = await authorization.authorize(session, body.id_tag, now=now)
        if auth.status is not authorization.AuthStatus.ACCEPTED:
            raise ApiError(409, "TagNotAccepted", error=f"tag {auth.status.value}")
        if connector and await paid_sessions.active_on(session, cp, connector, lock=False):
            raise ApiError(409, "ActiveReservation", error="a paid session holds the connector")
        new = reservations.NewReservation(
            cp,
            connector,
            body.connector_type,
            body.id_tag,
            auth.group,
            body.expiry_date_time,
            body.created_by,
        )
        try:
            row = await reservations.create(session, new, now=now)
        except reservations.ConnectorReserved as error:
            raise ApiError(409, "ConnectorReserved", error=str(error)) from None
        return reservations.reserve_command(row)


async def _settle(
    runtime: Runtime, reservation_id: int, status: ReservationStatus | None
) -> ChargerReservation:
    """Record how the command ended (None: it changed nothing); the reservation as stored."""
    async with runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        if row is None:  # its charge point was deleted meanwhile, and its reservations with it
            raise ApiError(404, "NoReservation", reservationId=reservation_id)
        if status is not None:
            reservations.move(row, status, now=runtime.clock())
        await session.flush()
        return row


def _json(row: ChargerReservation) -> dict[str, object]:
    return ReservationOut.of(row).model_dump(mode="json", by_alias=True)
