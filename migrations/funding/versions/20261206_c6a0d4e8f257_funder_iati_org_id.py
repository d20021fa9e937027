"""a funder's IATI organisation identifier, for its IATI export

Revision ID: c6a0d4e8f257
Revises: b5f9c3d7e146
Create Date: 2026-12-06 13:50:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "c6a0d4e8f257"
down_revision: Union[str, Sequence[str], None] = "b5f9c3d7e146"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("funders", sa.Column("iati_org_id", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("funders", schema=None) as batch_op:
        batch_op.drop_column("iati_org_id")
