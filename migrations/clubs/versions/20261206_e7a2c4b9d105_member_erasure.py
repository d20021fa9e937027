"""member erasure: the day a member's personal data was erased

Revision ID: e7a2c4b9d105
Revises: a3c91e5d7b20
Create Date: 2026-12-06 09:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "e7a2c4b9d105"
down_revision: Union[str, Sequence[str], None] = "a3c91e5d7b20"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

DUE = "left_on IS NOT NULL AND erased_on IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_on", sa.Date(), nullable=True))
    op.create_index(
        "ix_members_erasure_due",
        "members",
        ["left_on"],
        sqlite_where=sa.text(DUE),
        postgresql_where=sa.text(DUE),
    )


def downgrade() -> None:
    op.drop_index("ix_members_erasure_due", table_name="members")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("erased_on")
