"""A lease on the reservation's money action, so one node at a time calls Stripe for it

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ocpp_core.db.types import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A nullable column with no default: adding it rewrites no row, and a node of the
# previous release ignores it (it serialises money actions in its own process only).


def upgrade() -> None:
    op.add_column(
        "payment_reservations", sa.Column("money_claimed_until", UTCDateTime(), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("payment_reservations", "money_claimed_until")
