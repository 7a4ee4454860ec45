"""Indexes for the operator lists at fleet scale: prefix search, payments newest first

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Ids and names folded to lower case serve the lists' search by prefix (see
# ocpp_core.db.folded: PostgreSQL's take the operator class that compares code points).
_FOLDED = (
    ("ix_charge_points_id_folded", "charge_points", "id"),
    ("ix_charge_points_name_folded", "charge_points", "name"),
    ("ix_charge_tags_id_folded", "charge_tags", "id"),
    ("ix_charge_tags_name_folded", "charge_tags", "name"),
)
# The payments page of one charge point, newest first (the fleet's is 0012's index).
_PLAIN = (("ix_reservation_cp_created", "payment_reservations", ["charge_point_id", "created_at"]),)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, table, column in _FOLDED:
            op.execute(f"CREATE INDEX {name} ON {table} (lower({column}))")
        for name, table, columns in _PLAIN:
            op.create_index(name, table, columns, if_not_exists=True)
        return
    # A fleet's tables are big: built concurrently, the indexes do not hold up the nodes
    # still answering chargers. A build that failed leaves an invalid index behind, so a
    # second run starts afresh.
    with op.get_context().autocommit_block():
        for name, table, column in _FOLDED:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            op.execute(
                f"CREATE INDEX CONCURRENTLY {name} ON {table} (lower({column}) text_pattern_ops)"
            )
        for name, table, columns in _PLAIN:
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
            op.create_index(name, table, columns, postgresql_concurrently=True)


def downgrade() -> None:
    for name, table, _ in (*_PLAIN, *_FOLDED):
        op.drop_index(name, table_name=table)
