"""a plan's headline counts may be left unstated (null): no target, never 0 and met

Revision ID: e6a8c0b2d4f9
Revises: b4d6f8a0c2e7
Create Date: 2026-12-07 12:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "e6a8c0b2d4f9"
down_revision: Union[str, Sequence[str], None] = "b4d6f8a0c2e7"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COUNTS = ("clubs_to_found", "clubs_to_maintain", "members", "older_members")


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        for name in COUNTS:
            batch.alter_column(name, existing_type=sa.Integer(), nullable=True)
    # The 0 the API filled in for a count a plan left out said "no target"; a plan that means
    # none states it again.
    for name in COUNTS:
        op.execute(f"UPDATE plans SET {name} = NULL WHERE {name} = 0")


def downgrade() -> None:
    for name in COUNTS:
        op.execute(f"UPDATE plans SET {name} = 0 WHERE {name} IS NULL")
    with op.batch_alter_table("plans") as batch:
        for name in COUNTS:
            batch.alter_column(name, existing_type=sa.Integer(), nullable=False)
