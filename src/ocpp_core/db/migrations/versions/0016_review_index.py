"""An index on the transactions under meter review, by start

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The charge report lists a period's sessions under meter review, oldest first. They are
# a handful among a year of a fleet's transactions, which PostgreSQL otherwise reads all
# (100 ms of the report's year at 500,000 transactions): a partial index holds only them.
NAME = "ix_transactions_review"
COLUMNS = ["start_at", "id"]
UNDER_REVIEW = "review_reason IS NOT NULL"


def upgrade() -> None:
    where = sa.text(UNDER_REVIEW)
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(NAME, "transactions", COLUMNS, sqlite_where=where)
        return
    # Built concurrently (see 0010); a build that failed leaves an invalid index behind,
    # so a second run starts afresh.
    with op.get_context().autocommit_block():
        op.drop_index(NAME, table_name="transactions", postgresql_concurrently=True, if_exists=True)
        op.create_index(
            NAME, "transactions", COLUMNS, postgresql_where=where, postgresql_concurrently=True
        )


def downgrade() -> None:
    op.drop_index(NAME, table_name="transactions")
