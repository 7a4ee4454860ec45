"""Report snapshots: a period's figures kept with the time they were computed

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 23:59:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ocpp_core.db.types import UTCDateTime

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A new table alone: a node of the previous release never reads it.


def upgrade() -> None:
    op.create_table(
        "report_snapshots",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("refreshing_until", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_report_snapshots_computed_at", "report_snapshots", ["computed_at"])


def downgrade() -> None:
    op.drop_index("ix_report_snapshots_computed_at", table_name="report_snapshots")
    op.drop_table("report_snapshots")
