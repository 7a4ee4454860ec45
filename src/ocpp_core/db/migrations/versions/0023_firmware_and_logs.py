"""Firmware updates and diagnostics/log uploads, one row per request to a charger

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 23:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.sql.schema import SchemaItem

from ocpp_core.db.types import UTCDateTime

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _progress_columns() -> list[sa.Column[object]]:
    """What both kinds of request keep of the charger's answer and its notifications."""
    return [
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("answer", sa.String(length=50), nullable=True),
        sa.Column("status", sa.String(length=50), nullable=True),
        sa.Column("status_at", UTCDateTime(), nullable=True),
        sa.Column("history", sa.Text(), nullable=False),
    ]


def _keys(table: str) -> list[SchemaItem]:
    return [
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("charge_point_id", sa.String(length=100), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.id"],
            name=op.f(f"fk_{table}_charge_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint(
            "charge_point_id", "request_id", name=op.f(f"uq_{table}_charge_point_id")
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "firmware_updates",
        *_keys("firmware_updates"),
        sa.Column("location", sa.String(length=512), nullable=False),
        sa.Column("retrieve_at", UTCDateTime(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("retry_interval", sa.Integer(), nullable=True),
        *_progress_columns(),
    )
    op.create_index(
        "ix_firmware_updates_charger_time",
        "firmware_updates",
        ["charge_point_id", "requested_at"],
    )
    op.create_table(
        "log_uploads",
        *_keys("log_uploads"),
        sa.Column("log_type", sa.String(length=20), nullable=False),
        sa.Column("oldest_at", UTCDateTime(), nullable=True),
        sa.Column("latest_at", UTCDateTime(), nullable=True),
        *_progress_columns(),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_expires_at", UTCDateTime(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("uploaded_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("token_hash", name=op.f("uq_log_uploads_token_hash")),
    )
    op.create_index(
        "ix_log_uploads_charger_time", "log_uploads", ["charge_point_id", "requested_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_log_uploads_charger_time", table_name="log_uploads")
    op.drop_table("log_uploads")
    op.drop_index("ix_firmware_updates_charger_time", table_name="firmware_updates")
    op.drop_table("firmware_updates")
