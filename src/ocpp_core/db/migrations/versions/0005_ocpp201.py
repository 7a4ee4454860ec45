"""OCPP 2.0.1: EVSE plugs, transaction event numbering, remote start ids, reports

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 22:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ocpp_core.db.types import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evse_connectors",
        sa.Column("charge_point_id", sa.String(length=100), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("status_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f("fk_evse_connectors_charge_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "charge_point_id", "evse_id", "connector_id", name=op.f("pk_evse_connectors")
        ),
    )
    op.create_table(
        "charger_reports",
        sa.Column("charge_point_id", sa.String(length=100), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("seq_no", sa.Integer(), nullable=False),
        sa.Column("generated_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("more_follows", sa.Boolean(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f("fk_charger_reports_charge_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "charge_point_id", "request_id", "seq_no", name=op.f("pk_charger_reports")
        ),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq_no", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("seq_gaps", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("remote_start_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("payment_reservations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remote_start_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_payment_reservations_remote_start_id"), ["remote_start_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_reservations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_payment_reservations_remote_start_id"), type_="unique"
        )
        batch_op.drop_column("remote_start_id")
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_column("remote_start_id")
        batch_op.drop_column("seq_gaps")
        batch_op.drop_column("seq_no")
    op.drop_table("charger_reports")
    op.drop_table("evse_connectors")
