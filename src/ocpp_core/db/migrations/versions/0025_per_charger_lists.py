"""Per-charger local lists: the tags an operator chose for one charger, that list's own
revision, and the list length the charger last reported

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# New columns with defaults and a new table: a node of the previous release keeps
# working on every list it knows (it never writes a chosen list's columns).


def upgrade() -> None:
    op.add_column(
        "local_lists",
        sa.Column("chosen_tags", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "local_lists", sa.Column("revision", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("local_lists", sa.Column("max_length", sa.Integer(), nullable=True))
    op.create_table(
        "local_list_tags",
        sa.Column("charge_point_id", sa.String(length=100), nullable=False),
        sa.Column("tag_id", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["local_lists.charge_point_id"],
            name=op.f("fk_local_list_tags_charge_point_id_local_lists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["charge_tags.id"],
            name=op.f("fk_local_list_tags_tag_id_charge_tags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("charge_point_id", "tag_id", name=op.f("pk_local_list_tags")),
    )
    op.create_index(op.f("ix_local_list_tags_tag_id"), "local_list_tags", ["tag_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_local_list_tags_tag_id"), table_name="local_list_tags")
    op.drop_table("local_list_tags")
    for column in ("max_length", "revision", "chosen_tags"):
        op.drop_column("local_lists", column)
