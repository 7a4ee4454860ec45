"""payments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 19:18:49.738093
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ocpp_core.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: a migration must not change when the models do.
ACTIVE = (
    "status IN ('PendingPayment', 'Authorized', 'StartRequested', 'Charging', "
    "'WaitingForDisconnect')"
)


def upgrade() -> None:
    op.create_table(
        "stripe_webhook_events",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("reservation_id", sa.String(length=36), nullable=True),
        sa.Column("processed_at", ocpp_core.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_webhook_events")),
    )
    op.create_table(
        "charge_tag_privileges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tag_id", sa.String(length=50), nullable=False),
        sa.Column("charge_point_id", sa.String(length=100), nullable=True),
        sa.Column("free_charging", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", ocpp_core.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f("fk_charge_tag_privileges_charge_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["charge_tags.id"],
            name=op.f("fk_charge_tag_privileges_tag_id_charge_tags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_tag_privileges")),
    )
    with op.batch_alter_table("charge_tag_privileges", schema=None) as batch_op:
        batch_op.create_index("ix_privilege_tag_cp", ["tag_id", "charge_point_id"], unique=True)

    op.create_table(
        "payment_reservations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("charge_point_id", sa.String(length=100), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("charge_tag_id", sa.String(length=50), nullable=False),
        sa.Column("ocpp_id_tag", sa.String(length=20), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=True),
        sa.Column("free", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("price_kwh_millicents", sa.BigInteger(), nullable=False),
        sa.Column("session_fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("usage_fee_minute_millicents", sa.BigInteger(), nullable=False),
        sa.Column("usage_grace_minutes", sa.Integer(), nullable=False),
        sa.Column("usage_max_minutes", sa.Integer(), nullable=False),
        sa.Column("usage_after_charging", sa.Boolean(), nullable=False),
        sa.Column("max_energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("hold_cents", sa.BigInteger(), nullable=False),
        sa.Column("checkout_session_id", sa.String(length=200), nullable=True),
        sa.Column("checkout_url", sa.Text(), nullable=True),
        sa.Column("payment_intent_id", sa.String(length=200), nullable=True),
        sa.Column("authorized_cents", sa.BigInteger(), nullable=True),
        sa.Column("created_at", ocpp_core.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", ocpp_core.db.types.UTCDateTime(), nullable=False),
        sa.Column("authorized_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("start_deadline_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("awaiting_plug", sa.Boolean(), nullable=False),
        sa.Column("remote_start_sent_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("remote_start_result", sa.String(length=50), nullable=True),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("charging_started_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("stopped_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("disconnected_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("max_energy_stop_sent_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("idle_since", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("idle_seconds", sa.Integer(), nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=True),
        sa.Column("energy_cents", sa.BigInteger(), nullable=True),
        sa.Column("usage_minutes", sa.Integer(), nullable=True),
        sa.Column("usage_cents", sa.BigInteger(), nullable=True),
        sa.Column("amount_due_cents", sa.BigInteger(), nullable=True),
        sa.Column("captured_cents", sa.BigInteger(), nullable=True),
        sa.Column("captured_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("released_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("money_state", sa.String(length=20), nullable=True),
        sa.Column("money_attempts", sa.Integer(), nullable=False),
        sa.Column("money_next_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("money_last_error", sa.String(length=500), nullable=True),
        sa.Column("failure_code", sa.String(length=50), nullable=True),
        sa.Column("failure_message", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f("fk_payment_reservations_charge_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_reservations")),
    )
    with op.batch_alter_table("payment_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_reservations_checkout_session_id"),
            ["checkout_session_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_payment_reservations_payment_intent_id"),
            ["payment_intent_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_payment_reservations_transaction_id"), ["transaction_id"], unique=False
        )
        batch_op.create_index("ix_reservation_id_tag", ["ocpp_id_tag"], unique=False)
        batch_op.create_index(
            "ix_reservation_money", ["money_state", "money_next_at"], unique=False
        )
        batch_op.create_index("ix_reservation_status", ["status"], unique=False)
        batch_op.create_index(
            "ux_reservation_active_connector",
            ["charge_point_id", "connector_id"],
            unique=True,
            sqlite_where=sa.text(ACTIVE),
            postgresql_where=sa.text(ACTIVE),
        )

    with op.batch_alter_table("charge_points", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("free_charging", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("price_kwh_millicents", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("session_fee_cents", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "usage_fee_minute_millicents", sa.BigInteger(), server_default="0", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("usage_grace_minutes", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("usage_max_minutes", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "usage_after_charging", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("max_session_wh", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("charge_points", schema=None) as batch_op:
        batch_op.drop_column("currency")
        batch_op.drop_column("max_session_wh")
        batch_op.drop_column("usage_after_charging")
        batch_op.drop_column("usage_max_minutes")
        batch_op.drop_column("usage_grace_minutes")
        batch_op.drop_column("usage_fee_minute_millicents")
        batch_op.drop_column("session_fee_cents")
        batch_op.drop_column("price_kwh_millicents")
        batch_op.drop_column("free_charging")

    with op.batch_alter_table("payment_reservations", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_reservation_active_connector",
            sqlite_where=sa.text(ACTIVE),
            postgresql_where=sa.text(ACTIVE),
        )
        batch_op.drop_index("ix_reservation_status")
        batch_op.drop_index("ix_reservation_money")
        batch_op.drop_index("ix_reservation_id_tag")
        batch_op.drop_index(batch_op.f("ix_payment_reservations_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_payment_reservations_payment_intent_id"))
        batch_op.drop_index(batch_op.f("ix_payment_reservations_checkout_session_id"))

    op.drop_table("payment_reservations")
    with op.batch_alter_table("charge_tag_privileges", schema=None) as batch_op:
        batch_op.drop_index("ix_privilege_tag_cp")

    op.drop_table("charge_tag_privileges")
    op.drop_table("stripe_webhook_events")
