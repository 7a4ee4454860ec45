"""A paid session's hold on the charger's own reservation, and which chargers take reservations

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Nullable columns with no default: adding them rewrites no row, and a node of the
# previous release ignores them (its paid sessions wait for the plug, as before).


def upgrade() -> None:
    op.add_column("charge_points", sa.Column("reservations_supported", sa.Boolean(), nullable=True))
    op.add_column(
        "charger_reservations",
        sa.Column("payment_reservation_id", sa.String(length=36), nullable=True),
    )
    op.create_index(
        "ux_charger_reservations_payment",
        "charger_reservations",
        ["payment_reservation_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_charger_reservations_payment", table_name="charger_reservations")
    op.drop_column("charger_reservations", "payment_reservation_id")
    op.drop_column("charge_points", "reservations_supported")
