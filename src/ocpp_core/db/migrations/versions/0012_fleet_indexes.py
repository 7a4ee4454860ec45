"""Indexes a fleet needs: payment reservations by creation time, and open transactions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "stop_at IS NULL"
# The payments list and the reports order and filter reservations by creation time. The
# few open transactions among a year of closed ones are looked for on every poll of the
# dashboard and the connector pages (all of them, in id order) and for charger messages
# (one connector's): two partial indexes hold only those, one for each way of asking.
_INDEXES: tuple[tuple[str, str, list[str], str | None], ...] = (
    ("ix_reservation_created_at", "payment_reservations", ["created_at", "id"], None),
    ("ix_transactions_open", "transactions", ["charge_point_id", "connector_id"], OPEN),
    ("ix_transactions_open_id", "transactions", ["id"], OPEN),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, table, columns, where in _INDEXES:
            condition = sa.text(where) if where else None
            op.create_index(name, table, columns, sqlite_where=condition)
        return
    # Built concurrently (see 0010): a year of transactions takes a while to index, and the
    # nodes answering chargers keep writing meanwhile. A build that failed leaves an invalid
    # index behind, so a second run starts afresh.
    with op.get_context().autocommit_block():
        for name, table, columns, where in _INDEXES:
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
            op.create_index(
                name,
                table,
                columns,
                postgresql_where=sa.text(where) if where else None,
                postgresql_concurrently=True,
            )


def downgrade() -> None:
    for name, table, _, _ in _INDEXES:
        op.drop_index(name, table_name=table)
