"""composition index covers volunteers

The composition counts read home_care_volunteer too; with it in the index they are answered
from the index alone (bench/clubs.py: a province aggregate 823 ms → 20 ms at 1.5 M members).

Revision ID: 7c2e4f1a9b33
Revises: 5b1d0e7c2a10
Create Date: 2026-11-23 11:05:00

"""
from typing import Sequence, Union

from alembic import op

revision: str = "7c2e4f1a9b33"
down_revision: Union[str, Sequence[str], None] = "5b1d0e7c2a10"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD = ["club_id", "joined_on", "left_on", "gender", "birth_key", "household_status"]


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_composition")
        batch_op.create_index("ix_members_composition", [*OLD, "home_care_volunteer"])


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_composition")
        batch_op.create_index("ix_members_composition", OLD)
