"""The message log keeps each call's answer, and an index on time for paging and retention

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_message_log_time"


def upgrade() -> None:
    _create_index()
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answer", sa.Text(), nullable=True))


def _create_index() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(_INDEX, "message_log", ["logged_at", "id"])
        return
    # A log kept without retention can hold many millions of rows: built concurrently,
    # the index does not hold up the nodes still writing the log (and answering chargers).
    # A build that failed leaves an invalid index behind, so a second run starts afresh.
    with op.get_context().autocommit_block():
        op.drop_index(
            _INDEX, table_name="message_log", postgresql_concurrently=True, if_exists=True
        )
        op.create_index(_INDEX, "message_log", ["logged_at", "id"], postgresql_concurrently=True)


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="message_log")
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.drop_column("answer")
