"""a pledge made by mistake is withdrawn, not deleted

Revision ID: b5f9c3d7e146
Revises: e3c7a1f5d924
Create Date: 2026-12-06 13:40:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "b5f9c3d7e146"
down_revision: Union[str, Sequence[str], None] = "e3c7a1f5d924"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("commitments", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("commitments", sa.Column("withdrawn_by", sa.String(length=200), nullable=True))
    op.add_column(
        "commitments", sa.Column("withdrawal_reason", sa.String(length=500), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("commitments", schema=None) as batch_op:
        batch_op.drop_column("withdrawal_reason")
        batch_op.drop_column("withdrawn_by")
        batch_op.drop_column("withdrawn_at")
