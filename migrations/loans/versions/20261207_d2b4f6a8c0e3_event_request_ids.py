"""an event keeps the id of the request that caused it

Revision ID: d2b4f6a8c0e3
Revises: 5d0f68f3c3ab
Create Date: 2026-12-07 03:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "d2b4f6a8c0e3"
down_revision: Union[str, Sequence[str], None] = "5d0f68f3c3ab"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_events") as batch:
        batch.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_events") as batch:
        batch.drop_column("request_id")
