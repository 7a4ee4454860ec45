"""charge point display code and location

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 21:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("charge_points", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display_code", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("location", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_charge_points_display_code"), ["display_code"]
        )


def downgrade() -> None:
    with op.batch_alter_table("charge_points", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_charge_points_display_code"), type_="unique")
        batch_op.drop_column("location")
        batch_op.drop_column("display_code")
