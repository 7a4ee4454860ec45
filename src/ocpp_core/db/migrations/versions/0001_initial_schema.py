"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 18:59:49.274176
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ocpp_core.db.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "charge_points",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("comment", sa.String(length=200), nullable=True),
        sa.Column("auth_user", sa.String(length=100), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("client_cert_thumbprint", sa.String(length=64), nullable=True),
        sa.Column("vendor", sa.String(length=50), nullable=True),
        sa.Column("model", sa.String(length=50), nullable=True),
        sa.Column("serial_number", sa.String(length=50), nullable=True),
        sa.Column("firmware_version", sa.String(length=50), nullable=True),
        sa.Column("iccid", sa.String(length=20), nullable=True),
        sa.Column("imsi", sa.String(length=20), nullable=True),
        sa.Column("meter_type", sa.String(length=50), nullable=True),
        sa.Column("meter_serial_number", sa.String(length=50), nullable=True),
        sa.Column("protocol", sa.String(length=20), nullable=True),
        sa.Column("firmware_status", sa.String(length=50), nullable=True),
        sa.Column("firmware_status_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("diagnostics_status", sa.String(length=50), nullable=True),
        sa.Column("diagnostics_status_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("booted_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("last_seen_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", ocpp_core.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_points")),
    )
    op.create_table(
        "charge_tags",
        sa.Column("id", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("parent_id", sa.String(length=50), nullable=True),
        sa.Column("expires_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("created_at", ocpp_core.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_tags")),
    )
    with op.batch_alter_table("charge_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_charge_tags_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "message_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("logged_at", ocpp_core.db.types.UTCDateTime(), nullable=False),
        sa.Column("charge_point_id", sa.String(length=100), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=50), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_log")),
    )
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_log_cp_time", ["charge_point_id", "logged_at"], unique=False
        )

    op.create_table(
        "connectors",
        sa.Column("charge_point_id", sa.String(length=100), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=50), nullable=True),
        sa.Column("error_code", sa.String(length=50), nullable=True),
        sa.Column("status_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("meter_wh", sa.BigInteger(), nullable=True),
        sa.Column("meter_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("power_w", sa.Integer(), nullable=True),
        sa.Column("current_ma", sa.Integer(), nullable=True),
        sa.Column("soc_percent", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f("fk_connectors_charge_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("charge_point_id", "connector_id", name=op.f("pk_connectors")),
    )
    op.create_table(
        "meter_anomalies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("charge_point_id", sa.String(length=100), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=50), nullable=False),
        sa.Column("value_wh", sa.BigInteger(), nullable=False),
        sa.Column("previous_wh", sa.BigInteger(), nullable=True),
        sa.Column("sampled_at", ocpp_core.db.types.UTCDateTime(), nullable=False),
        sa.Column("detected_at", ocpp_core.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f("fk_meter_anomalies_charge_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_anomalies")),
    )
    with op.batch_alter_table("meter_anomalies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_meter_anomalies_charge_point_id"), ["charge_point_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_meter_anomalies_transaction_id"), ["transaction_id"], unique=False
        )

    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=50), nullable=True),
        sa.Column("charge_point_id", sa.String(length=100), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("start_tag", sa.String(length=50), nullable=False),
        sa.Column("start_at", ocpp_core.db.types.UTCDateTime(), nullable=False),
        sa.Column("meter_start_wh", sa.BigInteger(), nullable=False),
        sa.Column("start_result", sa.String(length=50), nullable=False),
        sa.Column("stop_tag", sa.String(length=50), nullable=True),
        sa.Column("stop_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("meter_stop_wh", sa.BigInteger(), nullable=True),
        sa.Column("stop_reason", sa.String(length=50), nullable=True),
        sa.Column("last_meter_wh", sa.BigInteger(), nullable=True),
        sa.Column("last_meter_at", ocpp_core.db.types.UTCDateTime(), nullable=True),
        sa.Column("energy_wh", sa.BigInteger(), nullable=True),
        sa.Column("review_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f("fk_transactions_charge_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_transactions_cp_connector", ["charge_point_id", "connector_id"], unique=False
        )
        batch_op.create_index("ix_transactions_start_at", ["start_at"], unique=False)
        batch_op.create_index("ix_transactions_start_tag", ["start_tag"], unique=False)
        batch_op.create_index(batch_op.f("ix_transactions_uid"), ["uid"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transactions_uid"))
        batch_op.drop_index("ix_transactions_start_tag")
        batch_op.drop_index("ix_transactions_start_at")
        batch_op.drop_index("ix_transactions_cp_connector")

    op.drop_table("transactions")
    with op.batch_alter_table("meter_anomalies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_anomalies_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_meter_anomalies_charge_point_id"))

    op.drop_table("meter_anomalies")
    op.drop_table("connectors")
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.drop_index("ix_message_log_cp_time")

    op.drop_table("message_log")
    with op.batch_alter_table("charge_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charge_tags_parent_id"))

    op.drop_table("charge_tags")
    op.drop_table("charge_points")
