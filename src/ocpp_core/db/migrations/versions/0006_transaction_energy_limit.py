"""The energy a transaction may reach before it is stopped, kept on the transaction

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 01:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("energy_limit_wh", sa.BigInteger(), nullable=True))
    # Paid sessions charging during the upgrade keep their cap.
    op.execute(
        """
        UPDATE transactions SET energy_limit_wh = (
            SELECT r.max_energy_wh FROM payment_reservations r
            WHERE r.transaction_id = transactions.id
              AND r.status = 'Charging' AND r.max_energy_wh > 0
        )
        WHERE stop_at IS NULL
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_column("energy_limit_wh")
