"""Indexes for exports and charts at fleet scale: transactions by start (and id), and by stop

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Exports and the transactions page read newest first, keyset on (start, id); charts
# sum the transactions started in a period; utilisation finds those still open at the
# period's start by their stop. (start, id) serves every query the index on start
# alone served, so it replaces it. One station's transactions are few: the index on
# (charge point, connector) finds them.
_NEW = (
    ("ix_transactions_start_at_id", ["start_at", "id"]),
    ("ix_transactions_stop_at", ["stop_at"]),
)
_REPLACED = ("ix_transactions_start_at", ["start_at"])


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, columns in _NEW:
            op.create_index(name, "transactions", columns)
        op.drop_index(_REPLACED[0], table_name="transactions")
        return
    # A year of a fleet's transactions takes a while to index: built concurrently, the
    # indexes do not hold up the nodes answering chargers (see 0010). A build that failed
    # leaves an invalid index behind, so a second run starts afresh.
    with op.get_context().autocommit_block():
        for name, columns in _NEW:
            op.drop_index(
                name, table_name="transactions", postgresql_concurrently=True, if_exists=True
            )
            op.create_index(name, "transactions", columns, postgresql_concurrently=True)
        op.drop_index(
            _REPLACED[0], table_name="transactions", postgresql_concurrently=True, if_exists=True
        )


def downgrade() -> None:
    op.create_index(_REPLACED[0], "transactions", _REPLACED[1])
    for name, _ in _NEW:
        op.drop_index(name, table_name="transactions")
