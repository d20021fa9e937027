"""one meeting per club per day

Revision ID: 5b1d0e7c2a10
Revises: 34153c399a47
Create Date: 2026-11-23 10:50:00

"""
from typing import Sequence, Union

from alembic import op

revision: str = "5b1d0e7c2a10"
down_revision: Union[str, Sequence[str], None] = "34153c399a47"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index("ix_meetings_club_id_held_on")
        batch_op.create_index("uq_meetings_club_id_held_on", ["club_id", "held_on"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index("uq_meetings_club_id_held_on")
        batch_op.create_index("ix_meetings_club_id_held_on", ["club_id", "held_on"], unique=False)
