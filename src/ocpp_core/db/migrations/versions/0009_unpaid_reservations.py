"""Who started an unpaid reservation (one at a time each), and payments that came too late

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ocpp_core.db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPAID = "status = 'PendingPayment'"


def upgrade() -> None:
    with op.batch_alter_table("payment_reservations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("driver_key", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("paid_late_at", ocpp_core.db.types.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(
            "ux_reservation_unpaid_driver",
            ["driver_key"],
            unique=True,
            sqlite_where=sa.text(UNPAID),
            postgresql_where=sa.text(UNPAID),
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_reservations", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_reservation_unpaid_driver",
            sqlite_where=sa.text(UNPAID),
            postgresql_where=sa.text(UNPAID),
        )
        batch_op.drop_column("paid_late_at")
        batch_op.drop_column("driver_key")
