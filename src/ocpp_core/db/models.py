"""The tables. Energy is integer Wh, times are aware UTC (see :mod:`.types`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ocpp_core.db.folded import folded_index
from ocpp_core.db.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

IdTag = String(50)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ChargePoint(Base):
    __tablename__ = "charge_points"
    # The connected few of a big fleet, for the dashboard's counts without a scan of all.
    __table_args__ = (
        Index(
            "ix_charge_points_online",
            "id",
            sqlite_where=text("online_node IS NOT NULL"),
            postgresql_where=text("online_node IS NOT NULL"),
        ),
        # The list's search: ids and names by prefix, either case (ocpp_core.db.folded).
        folded_index("ix_charge_points_id_folded", "id"),
        folded_index("ix_charge_points_name_folded", "name"),
    )

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(String(200))
    # What drivers read on the label and the start page, instead of the OCPP identity.
    display_code: Mapped[str | None] = mapped_column(String(20), unique=True)
    location: Mapped[str | None] = mapped_column(String(200))
    auth_user: Mapped[str | None] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    client_cert_thumbprint: Mapped[str | None] = mapped_column(String(64))
    vendor: Mapped[str | None] = mapped_column(String(50))
    model: Mapped[str | None] = mapped_column(String(50))
    serial_number: Mapped[str | None] = mapped_column(String(50))
    firmware_version: Mapped[str | None] = mapped_column(String(50))
    iccid: Mapped[str | None] = mapped_column(String(20))
    imsi: Mapped[str | None] = mapped_column(String(20))
    meter_type: Mapped[str | None] = mapped_column(String(50))
    meter_serial_number: Mapped[str | None] = mapped_column(String(50))
    protocol: Mapped[str | None] = mapped_column(String(20))
    firmware_status: Mapped[str | None] = mapped_column(String(50))
    firmware_status_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    diagnostics_status: Mapped[str | None] = mapped_column(String(50))
    diagnostics_status_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    booted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Tariff. Rates are in thousandths of a minor unit, so 0.355 EUR/kWh is exact.
    free_charging: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    price_kwh_millicents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    session_fee_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    usage_fee_minute_millicents: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default="0"
    )
    usage_grace_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    usage_max_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    usage_after_charging: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    max_session_wh: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    currency: Mapped[str | None] = mapped_column(String(3))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Presence (see domain.presence): the node and connection that hold the charger's
    # websocket, None while it is not connected; the node renews ``online_until`` while it
    # lives, so the chargers of a node that died are found and set offline by the others.
    online_node: Mapped[str | None] = mapped_column(String(64))
    online_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Whether the charger takes ReserveNow (see payments.holding); None: not asked since
    # it booted last, as a new firmware may say otherwise.
    reservations_supported: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChargeTag(Base):
    __tablename__ = "charge_tags"
    __table_args__ = (
        folded_index("ix_charge_tags_id_folded", "id"),
        folded_index("ix_charge_tags_name_folded", "name"),
    )

    id: Mapped[str] = mapped_column(IdTag, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(IdTag, index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Connector(Base):
    """Last known state of one charging position; 0 (the whole charger) is not kept.

    A position is what a driver picks, a transaction runs on and a reservation holds:
    a 1.6 connector, or a 2.0.1 EVSE (whose plugs are :class:`EvseConnector` rows).
    """

    __tablename__ = "connectors"
    # The dashboard pages the connectors of one status (faulted, charging...) in key order.
    __table_args__ = (
        Index("ix_connectors_status_key", "status", "charge_point_id", "connector_id"),
    )

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), primary_key=True
    )
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(50))
    error_code: Mapped[str | None] = mapped_column(String(50))
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    meter_wh: Mapped[int | None] = mapped_column(BigInteger)
    meter_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    power_w: Mapped[int | None] = mapped_column(Integer)
    current_ma: Mapped[int | None] = mapped_column(Integer)
    soc_percent: Mapped[int | None] = mapped_column(Integer)


class EvseConnector(Base):
    """One plug of a 2.0.1 EVSE: only one plug of an EVSE is in use at a time."""

    __tablename__ = "evse_connectors"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), primary_key=True
    )
    evse_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(50))
    status_at: Mapped[datetime] = mapped_column(UTCDateTime())


_OPEN = text("stop_at IS NULL")
_UNDER_REVIEW = text("review_reason IS NOT NULL")


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (
        # One connector's transactions, and (PostgreSQL) the charts' sums per connector
        # from the index alone (see migration 0017).
        Index(
            "ix_transactions_cp_connector",
            "charge_point_id",
            "connector_id",
            postgresql_include=["start_at", "stop_at", "energy_wh", "start_result"],
        ),
        Index("ix_transactions_start_tag", "start_tag"),
        Index("ix_transactions_start_at_id", "start_at", "id"),
        Index("ix_transactions_stop_at", "stop_at"),
        # Only the open ones (a year holds hundreds of thousands of closed transactions):
        # one connector's, and the whole fleet's in id order (see migration 0012).
        Index(
            "ix_transactions_open",
            "charge_point_id",
            "connector_id",
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index("ix_transactions_open_id", "id", sqlite_where=_OPEN, postgresql_where=_OPEN),
        # The few under meter review, for the charge report's list (see migration 0016).
        Index(
            "ix_transactions_review",
            "start_at",
            "id",
            sqlite_where=_UNDER_REVIEW,
            postgresql_where=_UNDER_REVIEW,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The charger's own id where it chooses one (2.0.1 transactionId); None in 1.6.
    uid: Mapped[str | None] = mapped_column(String(50), index=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("charge_points.id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(Integer)
    start_tag: Mapped[str] = mapped_column(IdTag)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    meter_start_wh: Mapped[int] = mapped_column(BigInteger)
    # Where the start register came from, and whether the transaction's first register
    # may still replace it (see domain.transactions.StartSource).
    meter_start_source: Mapped[str] = mapped_column(String(20), server_default="Reported")
    start_result: Mapped[str] = mapped_column(String(50))
    stop_tag: Mapped[str | None] = mapped_column(IdTag)
    stop_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    meter_stop_wh: Mapped[int | None] = mapped_column(BigInteger)
    stop_reason: Mapped[str | None] = mapped_column(String(50))
    last_meter_wh: Mapped[int | None] = mapped_column(BigInteger)
    last_meter_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    energy_wh: Mapped[int | None] = mapped_column(BigInteger)
    review_reason: Mapped[str | None] = mapped_column(String(200))
    # Chargers that number their transaction events (2.0.1 seqNo): the highest seen,
    # and how many numbers were skipped, i.e. events that never reached us.
    seq_no: Mapped[int | None] = mapped_column(Integer)
    seq_gaps: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    remote_start_id: Mapped[int | None] = mapped_column(Integer)
    # A paid session's energy cap, copied here when the session links to the
    # transaction, so each MeterValues can tell from the row it already reads
    # whether the cap is reached, without asking the payments side every time.
    energy_limit_wh: Mapped[int | None] = mapped_column(BigInteger)


class MeterAnomaly(Base):
    """A reading no charger can produce: kept for a person to review, never billed."""

    __tablename__ = "meter_anomalies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), index=True
    )
    connector_id: Mapped[int] = mapped_column(Integer)
    transaction_id: Mapped[int | None] = mapped_column(Integer, index=True)
    reason: Mapped[str] = mapped_column(String(50))
    value_wh: Mapped[int] = mapped_column(BigInteger)
    previous_wh: Mapped[int | None] = mapped_column(BigInteger)
    sampled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MessageLogEntry(Base):
    """One exchange: a call and its answer (or the CALLERROR), either way round."""

    __tablename__ = "message_log"
    __table_args__ = (
        Index("ix_message_log_cp_time", "charge_point_id", "logged_at"),
        # The log's order (newest first, paged by key) and its retention (oldest first).
        Index("ix_message_log_time", "logged_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    charge_point_id: Mapped[str] = mapped_column(String(100))
    connector_id: Mapped[int | None] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(3))
    action: Mapped[str] = mapped_column(String(50))
    payload: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)  # the result's payload or the error's text
    error_code: Mapped[str | None] = mapped_column(String(50))


class ChargerReport(Base):
    """One part of a report a charger sent (2.0.1 NotifyReport), kept as it came."""

    __tablename__ = "charger_reports"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), primary_key=True
    )
    request_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    more_follows: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[str] = mapped_column(Text)


class ChargeTagPrivilege(Base):
    """A tag that charges for free: everywhere (no charge point) or at one station."""

    __tablename__ = "charge_tag_privileges"
    __table_args__ = (Index("ix_privilege_tag_cp", "tag_id", "charge_point_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tag_id: Mapped[str] = mapped_column(ForeignKey("charge_tags.id", ondelete="CASCADE"))
    charge_point_id: Mapped[str | None] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE")
    )
    free_charging: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


ACTIVE_RESERVATION_STATES = (
    "PendingPayment",
    "Authorized",
    "StartRequested",
    "Charging",
    "WaitingForDisconnect",
)
_ACTIVE_LIST = ", ".join(f"'{state}'" for state in ACTIVE_RESERVATION_STATES)
UNPAID_RESERVATION_STATE = "PendingPayment"


class PaymentReservation(Base):
    """One attempt to charge at a connector: it *is* the payment record.

    The partial unique index makes "one active reservation per connector" a
    property of the database, so two drivers racing for a connector cannot both
    win, whatever the timing.
    """

    __tablename__ = "payment_reservations"
    __table_args__ = (
        Index(
            "ux_reservation_active_connector",
            "charge_point_id",
            "connector_id",
            unique=True,
            sqlite_where=text(f"status IN ({_ACTIVE_LIST})"),
            postgresql_where=text(f"status IN ({_ACTIVE_LIST})"),
        ),
        # One driver (their browser's cookie) holds at most one unpaid reservation.
        Index(
            "ux_reservation_unpaid_driver",
            "driver_key",
            unique=True,
            sqlite_where=text(f"status = '{UNPAID_RESERVATION_STATE}'"),
            postgresql_where=text(f"status = '{UNPAID_RESERVATION_STATE}'"),
        ),
        Index("ix_reservation_id_tag", "ocpp_id_tag"),
        Index("ix_reservation_status", "status"),
        Index("ix_reservation_money", "money_state", "money_next_at"),
        # The payments page, newest first, of the fleet or of one charge point.
        Index("ix_reservation_created_at", "created_at", "id"),
        Index("ix_reservation_cp_created", "charge_point_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("charge_points.id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(Integer)
    charge_tag_id: Mapped[str] = mapped_column(IdTag)
    ocpp_id_tag: Mapped[str] = mapped_column(String(20))
    origin: Mapped[str | None] = mapped_column(String(20))
    # Who started it, as the caller knows them (the driver pages: a random id in the cookie).
    driver_key: Mapped[str | None] = mapped_column(String(64))
    free: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(30))
    # The tariff the driver saw, frozen at creation.
    price_kwh_millicents: Mapped[int] = mapped_column(BigInteger)
    session_fee_cents: Mapped[int] = mapped_column(BigInteger)
    usage_fee_minute_millicents: Mapped[int] = mapped_column(BigInteger)
    usage_grace_minutes: Mapped[int] = mapped_column(Integer)
    usage_max_minutes: Mapped[int] = mapped_column(Integer)
    usage_after_charging: Mapped[bool] = mapped_column(Boolean)
    max_energy_wh: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    hold_cents: Mapped[int] = mapped_column(BigInteger)
    # Stripe.
    checkout_session_id: Mapped[str | None] = mapped_column(String(200), index=True)
    checkout_url: Mapped[str | None] = mapped_column(Text)
    payment_intent_id: Mapped[str | None] = mapped_column(String(200), index=True)
    authorized_cents: Mapped[int | None] = mapped_column(BigInteger)
    # Lifecycle.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    authorized_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    start_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    awaiting_plug: Mapped[bool] = mapped_column(Boolean, default=False)
    remote_start_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Chargers that number remote starts (2.0.1 remoteStartId) echo it in the transaction.
    remote_start_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    remote_start_result: Mapped[str | None] = mapped_column(String(50))
    transaction_id: Mapped[int | None] = mapped_column(Integer, index=True)
    charging_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    max_energy_stop_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    idle_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    idle_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # Settlement: what was delivered and owed, and the money action in flight.
    energy_wh: Mapped[int | None] = mapped_column(BigInteger)
    energy_cents: Mapped[int | None] = mapped_column(BigInteger)
    usage_minutes: Mapped[int | None] = mapped_column(Integer)
    usage_cents: Mapped[int | None] = mapped_column(BigInteger)
    amount_due_cents: Mapped[int | None] = mapped_column(BigInteger)
    captured_cents: Mapped[int | None] = mapped_column(BigInteger)
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    money_state: Mapped[str | None] = mapped_column(String(20))
    money_attempts: Mapped[int] = mapped_column(Integer, default=0)
    money_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    money_last_error: Mapped[str | None] = mapped_column(String(500))
    # The node performing the money action holds it until then (see payments.money).
    money_claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure_code: Mapped[str | None] = mapped_column(String(50))
    failure_message: Mapped[str | None] = mapped_column(String(500))
    # An operator's (or the auto-release's) decision on a reservation under review.
    review_decision: Mapped[str | None] = mapped_column(String(20))
    review_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    review_decided_by: Mapped[str | None] = mapped_column(String(100))
    review_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A payment completed after the reservation had ended: its hold was given back.
    paid_late_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StripeWebhookEvent(Base):
    """Every verified Stripe event processed, so a redelivery is recognised and skipped."""

    __tablename__ = "stripe_webhook_events"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    reservation_id: Mapped[str | None] = mapped_column(String(36))
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class User(Base):
    """An operator of the management app; the password is an scrypt hash (see security)."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'viewer')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class OperatorSession(Base):
    """A login; the browser holds the token, this row only its SHA-256 (a leak opens nothing)."""

    __tablename__ = "operator_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The earlier of idle and absolute expiry, moved on as the session is used.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LoginFailure(Base):
    """One failed login, kept for the throttling window; shared by every management node."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_address_time", "address", "failed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class FirmwareUpdate(Base):
    """One UpdateFirmware sent to a charger, and how far the charger got with it.

    A fleet campaign is many of these, one per charger; each charger's progress is
    read against its own row.
    """

    __tablename__ = "firmware_updates"
    __table_args__ = (
        UniqueConstraint("charge_point_id", "request_id"),
        Index("ix_firmware_updates_charger_time", "charge_point_id", "requested_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("charge_points.id", ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(Integer)  # 2.0.1's requestId; drawn for 1.6 too
    location: Mapped[str] = mapped_column(String(512))
    retrieve_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retries: Mapped[int | None] = mapped_column(Integer)
    retry_interval: Mapped[int | None] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answer: Mapped[str | None] = mapped_column(String(50))  # the charger's answer, or why none
    status: Mapped[str | None] = mapped_column(String(50))  # its latest FirmwareStatusNotification
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    history: Mapped[str] = mapped_column(Text, default="[]")  # JSON [[status, at], ...], bounded


class LogUpload(Base):
    """One GetDiagnostics / GetLog sent to a charger, its progress and the file it uploaded.

    The upload URL carries a token; only its SHA-256 is kept, so the table opens no upload.
    The file is kept under the row's id, never under a name the charger chose.
    """

    __tablename__ = "log_uploads"
    __table_args__ = (
        UniqueConstraint("charge_point_id", "request_id"),
        Index("ix_log_uploads_charger_time", "charge_point_id", "requested_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("charge_points.id", ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(Integer)
    log_type: Mapped[str] = mapped_column(String(20))
    oldest_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    latest_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answer: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str | None] = mapped_column(String(50))
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    history: Mapped[str] = mapped_column(Text, default="[]")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    file_name: Mapped[str | None] = mapped_column(String(255))  # for the operator's download
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ChargingProfileRecord(Base):
    """A charging profile an operator made for one charger, and what became of it there.

    Its periods are a JSON list of ``[start s, limit in tenths, phases or null]``: a
    profile is always read and sent whole, and their number is bounded (see
    ``domain.charging_profiles.MAX_PERIODS``).
    """

    __tablename__ = "charging_profiles"
    __table_args__ = (
        # The charger knows a profile by its id alone: one record per id and charger.
        Index("ix_charging_profiles_cp_profile", "charge_point_id", "profile_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("charge_points.id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(Integer)
    profile_id: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(30))
    stack_level: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    recurrency: Mapped[str | None] = mapped_column(String(10))
    unit: Mapped[str] = mapped_column(String(1))
    start_schedule: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_s: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    transaction_id: Mapped[int | None] = mapped_column(Integer)
    periods: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    status_detail: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChargingNotice(Base):
    """What a 2.0.1 charger told about its charging limits, profiles or the EV's needs.

    Kept as it came (the newest few per charger, see ``domain.charging_notices``).
    """

    __tablename__ = "charging_notices"
    __table_args__ = (Index("ix_charging_notices_cp_id", "charge_point_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("charge_points.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    evse_id: Mapped[int | None] = mapped_column(Integer)
    request_id: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[str] = mapped_column(Text)


# The reservation states that hold a connector (see domain.reservations, which names them).
ACTIVE_CHARGER_RESERVATION_STATES = ("Requested", "Accepted")
_ACTIVE_CHARGER_RESERVATION = "status IN ('Requested', 'Accepted')"


class ChargerReservation(Base):
    """A reservation of a connector (or, in 2.0.1, of a connector type) for a tag: an
    operator's, or the hold of a paid session (``payment_reservation_id``).

    Its id is the OCPP reservation id the charger knows it by. The partial unique
    index makes "one live reservation per connector" the database's rule, as for the
    payments' reservations.
    """

    __tablename__ = "charger_reservations"
    __table_args__ = (
        Index(
            "ux_charger_reservation_active_connector",
            "charge_point_id",
            "connector_id",
            unique=True,
            sqlite_where=text(_ACTIVE_CHARGER_RESERVATION),
            postgresql_where=text(_ACTIVE_CHARGER_RESERVATION),
        ),
        Index("ix_charger_reservations_cp_status", "charge_point_id", "status"),
        Index("ix_charger_reservations_status_expires", "status", "expires_at"),
        Index("ix_charger_reservations_created_id", "created_at", "id"),
        # A paid session holds the charger's reservation once at most.
        Index("ux_charger_reservations_payment", "payment_reservation_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(ForeignKey("charge_points.id", ondelete="CASCADE"))
    # The connector (2.0.1: the EVSE); 0: any of the charger's.
    connector_id: Mapped[int] = mapped_column(Integer)
    connector_type: Mapped[str | None] = mapped_column(String(20))  # 2.0.1 only
    id_tag: Mapped[str] = mapped_column(IdTag)
    parent_id_tag: Mapped[str | None] = mapped_column(IdTag)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The transaction that used it, where the charger said so or its tag started there.
    transaction_id: Mapped[int | None] = mapped_column(Integer)
    # A paid session's hold on its connector between payment and plug-in (see
    # payments.holding); it ends with the session. No foreign key: a payment record
    # outlives nothing here, and its id names it in the operators' pages either way.
    payment_reservation_id: Mapped[str | None] = mapped_column(String(36))


class LocalList(Base):
    """The local authorization list ocpp-core keeps on one charger (see domain.local_lists).

    ``done`` is the revision of its tags (:class:`LocalListRevision`) the last sync took
    in: a tag changed while a sync runs leaves the list due, so no change is lost.
    """

    __tablename__ = "local_lists"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), primary_key=True
    )
    tag_group: Mapped[str | None] = mapped_column(IdTag)  # None: every tag (unless chosen)
    # The tags chosen for this charger (LocalListTag) instead of every tag or a group's.
    chosen_tags: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A chosen list's own revision: no group's counter tells when its tags changed.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The charger's LocalAuthListMaxLength as last read; None: not read yet.
    max_length: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=0)  # what the charger holds, 0: none
    done: Mapped[int] = mapped_column(Integer, default=0)
    full_needed: Mapped[bool] = mapped_column(Boolean, default=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[str | None] = mapped_column(String(50))
    entries: Mapped[int] = mapped_column(Integer, default=0)


class LocalListRevision(Base):
    """How often the tags of a group (or all tags) changed: one row per group, not per list,
    so a tag's change is a write or two however many chargers keep a list of it."""

    __tablename__ = "local_list_revisions"

    group_key: Mapped[str] = mapped_column(IdTag, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)


class LocalListTag(Base):
    """A tag an operator chose for one charger's list (a list with ``chosen_tags``)."""

    __tablename__ = "local_list_tags"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("local_lists.charge_point_id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[str] = mapped_column(
        ForeignKey("charge_tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class LocalListEntry(Base):
    """One tag as the charger's local list holds it, after the charger accepted it."""

    __tablename__ = "local_list_entries"

    charge_point_id: Mapped[str] = mapped_column(
        ForeignKey("local_lists.charge_point_id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[str] = mapped_column(IdTag, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    parent_id: Mapped[str | None] = mapped_column(IdTag)


class ReportSnapshot(Base):
    """A report's or the charts' figures for one period, as computed at ``computed_at``.

    A year of a large fleet takes seconds to sum; the pages show these figures
    with their time and recompute them at most every few minutes. ``key`` is a
    digest of the kind, the period and the charge point, so an operator's long
    input can't make it long. ``refreshing_until`` is the lease of the one
    process that recomputes a stale snapshot, taken by a conditional UPDATE.
    """

    __tablename__ = "report_snapshots"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    data: Mapped[str] = mapped_column(Text)
    refreshing_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
