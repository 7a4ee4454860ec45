"""Local authorization lists: which tags each charger's list holds, its version and what it took;
how often each tag group changed

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ocpp_core.db.types import UTCDateTime

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "local_lists",
        sa.Column("charge_point_id", sa.String(length=100), nullable=False),
        sa.Column("tag_group", sa.String(length=50), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("full_needed", sa.Boolean(), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=True),
        sa.Column("retry_at", UTCDateTime(), nullable=True),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("result", sa.String(length=50), nullable=True),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f("fk_local_lists_charge_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("charge_point_id", name=op.f("pk_local_lists")),
    )
    op.create_table(
        "local_list_revisions",
        sa.Column("group_key", sa.String(length=50), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("group_key", name=op.f("pk_local_list_revisions")),
    )
    op.create_table(
        "local_list_entries",
        sa.Column("charge_point_id", sa.String(length=100), nullable=False),
        sa.Column("tag_id", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("parent_id", sa.String(length=50), nullable=True),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["local_lists.charge_point_id"],
            name=op.f("fk_local_list_entries_charge_point_id_local_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("charge_point_id", "tag_id", name=op.f("pk_local_list_entries")),
    )


def downgrade() -> None:
    op.drop_table("local_list_entries")
    op.drop_table("local_list_revisions")
    op.drop_table("local_lists")
