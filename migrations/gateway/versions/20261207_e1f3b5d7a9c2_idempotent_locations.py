"""a retried request gets the first answer's Location too

Revision ID: e1f3b5d7a9c2
Revises: e5f7a9b1c3d6
Create Date: 2026-12-07 06:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "e1f3b5d7a9c2"
down_revision: Union[str, Sequence[str], None] = "e5f7a9b1c3d6"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column(
        "idempotency_keys", sa.Column("response_location", sa.String(length=500), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("response_location")
