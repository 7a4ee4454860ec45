"""Which node holds each charger's websocket, and an index to page connectors by status

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-05 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ocpp_core.db.types

revision: str = "0014"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_connectors_status_key"
_COLUMNS = ["status", "charge_point_id", "connector_id"]


def upgrade() -> None:
    with op.batch_alter_table("charge_points", schema=None) as batch_op:
        batch_op.add_column(sa.Column("online_node", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("online_until", ocpp_core.db.types.UTCDateTime(), nullable=True)
        )
    _create_index()


def _create_index() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(_INDEX, "connectors", _COLUMNS)
        return
    # Built concurrently like 0010: a fleet's connectors are updated by every
    # StatusNotification, which a plain CREATE INDEX would hold up meanwhile.
    with op.get_context().autocommit_block():
        op.drop_index(_INDEX, table_name="connectors", postgresql_concurrently=True, if_exists=True)
        op.create_index(_INDEX, "connectors", _COLUMNS, postgresql_concurrently=True)


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="connectors")
    with op.batch_alter_table("charge_points", schema=None) as batch_op:
        batch_op.drop_column("online_until")
        batch_op.drop_column("online_node")
