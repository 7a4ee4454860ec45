"""Who decided a payment under review, when, and what

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ocpp_core.db.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment_reservations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_decision", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("review_amount_cents", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("review_decided_by", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("review_decided_at", ocpp_core.db.types.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_reservations", schema=None) as batch_op:
        batch_op.drop_column("review_decided_at")
        batch_op.drop_column("review_decided_by")
        batch_op.drop_column("review_amount_cents")
        batch_op.drop_column("review_decision")
