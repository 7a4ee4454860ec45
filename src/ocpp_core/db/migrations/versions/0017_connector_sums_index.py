"""Charts read a period's transactions connector by connector, from the index alone

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 17:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The charts sum each connector's energy and busy time over a period (see
# ocpp_core.domain.reporting.per_connector). On PostgreSQL, the index on (charge
# point, connector) that also holds the columns summed lets that statement read narrow
# index entries instead of the wide rows, in the order it groups them, with no hash
# table of the fleet. SQLite has no INCLUDE, and keeps the index as it was.
NAME = "ix_transactions_cp_connector"
COLUMNS = ["charge_point_id", "connector_id"]
INCLUDED = ["start_at", "stop_at", "energy_wh", "start_result"]
_BUILDING = f"{NAME}_building"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Built concurrently (see 0010) under a name of its own, then put in the old one's
    # place: lookups of one connector's transactions find an index all along. Every step
    # can run again after a failed one (an invalid index left behind is built afresh).
    with op.get_context().autocommit_block():
        op.drop_index(
            _BUILDING, table_name="transactions", postgresql_concurrently=True, if_exists=True
        )
        op.create_index(
            _BUILDING,
            "transactions",
            COLUMNS,
            postgresql_include=INCLUDED,
            postgresql_concurrently=True,
        )
        op.drop_index(NAME, table_name="transactions", postgresql_concurrently=True, if_exists=True)
        op.execute(f"ALTER INDEX {_BUILDING} RENAME TO {NAME}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(NAME, table_name="transactions")
    op.create_index(NAME, "transactions", COLUMNS)
