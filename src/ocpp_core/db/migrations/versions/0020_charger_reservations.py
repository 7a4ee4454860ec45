"""Operators' reservations of a charger's connector for a tag (ReserveNow)

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-05 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ocpp_core.db.types

revision: str = "0020"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status IN ('Requested', 'Accepted')"


def upgrade() -> None:
    op.create_table(
        "charger_reservations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("charge_point_id", sa.String(length=100), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("connector_type", sa.String(length=20), nullable=True),
        sa.Column("id_tag", sa.String(length=50), nullable=False),
        sa.Column("parent_id_tag", sa.String(length=50), nullable=True),
        sa.Column("expires_at", ocpp_core.db.types.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", ocpp_core.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", ocpp_core.db.types.UTCDateTime(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f("fk_charger_reservations_charge_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charger_reservations")),
    )
    with op.batch_alter_table("charger_reservations", schema=None) as batch_op:
        batch_op.create_index(
            "ux_charger_reservation_active_connector",
            ["charge_point_id", "connector_id"],
            unique=True,
            sqlite_where=sa.text(ACTIVE),
            postgresql_where=sa.text(ACTIVE),
        )
        batch_op.create_index(
            "ix_charger_reservations_cp_status", ["charge_point_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_charger_reservations_status_expires", ["status", "expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_charger_reservations_created_id", ["created_at", "id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("charger_reservations")
