"""Where a transaction's start register came from, so its first register can settle it

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "meter_start_source",
                sa.String(length=20),
                server_default="Reported",
                nullable=False,
            )
        )
    # 2.0.1 transactions running during the upgrade that began without a register (stored
    # as -1) take their first register from now on, instead of going to review.
    op.execute(
        """
        UPDATE transactions SET meter_start_source = 'Missing'
        WHERE stop_at IS NULL AND uid IS NOT NULL AND meter_start_wh = -1
          AND last_meter_wh IS NULL
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_column("meter_start_source")
