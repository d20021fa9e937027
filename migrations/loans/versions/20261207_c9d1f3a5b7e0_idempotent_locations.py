"""a retried request gets the first answer's Location too

Revision ID: c9d1f3a5b7e0
Revises: f6a8c0e2d4b7
Create Date: 2026-12-07 06:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "c9d1f3a5b7e0"
down_revision: Union[str, Sequence[str], None] = "f6a8c0e2d4b7"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column(
        "idempotency_keys", sa.Column("response_location", sa.String(length=500), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("response_location")
