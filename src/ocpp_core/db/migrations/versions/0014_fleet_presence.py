"""Which node holds each charger's websocket; indexes for the dashboard's pages and counts

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ocpp_core.db.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, table, columns, where): the pages of one status; the connected charge points.
_INDEXES = (
    ("ix_connectors_status_key", "connectors", ["status", "charge_point_id", "connector_id"], None),
    ("ix_charge_points_online", "charge_points", ["id"], "online_node IS NOT NULL"),
)


def upgrade() -> None:
    with op.batch_alter_table("charge_points", schema=None) as batch_op:
        batch_op.add_column(sa.Column("online_node", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("online_until", ocpp_core.db.types.UTCDateTime(), nullable=True)
        )
    for name, table, columns, where in _INDEXES:
        _create_index(name, table, columns, where)


def _create_index(name: str, table: str, columns: list[str], where: str | None) -> None:
    condition = None if where is None else sa.text(where)
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(name, table, columns, sqlite_where=condition)
        return
    # Built concurrently like 0010: a fleet's connectors are updated by every
    # StatusNotification, which a plain CREATE INDEX would hold up meanwhile.
    # A build that failed leaves an invalid index behind, so a second run starts afresh.
    with op.get_context().autocommit_block():
        op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
        op.create_index(
            name, table, columns, postgresql_concurrently=True, postgresql_where=condition
        )


def downgrade() -> None:
    for name, table, _, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    # Not a batch: on SQLite that copies the table, and 0013's indexes on expressions,
    # which SQLite can't reflect, would be lost with it. SQLite drops columns since 3.35.
    op.drop_column("charge_points", "online_until")
    op.drop_column("charge_points", "online_node")
