"""the eighth activity area is communication (truyền thông), not lifelong learning

Revision ID: c7e9b1d3f5a2
Revises: c5e7a9b1d3f8
Create Date: 2026-12-07 10:00:00

"""
from typing import Sequence, Union

from alembic import op

revision: str = "c7e9b1d3f5a2"
down_revision: Union[str, Sequence[str], None] = "c5e7a9b1d3f8"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # An earlier brief named the area wrongly; what clubs recorded under it is their
    # communication work.
    op.execute("UPDATE activities SET area = 'communication' WHERE area = 'lifelong_learning'")


def downgrade() -> None:
    op.execute("UPDATE activities SET area = 'lifelong_learning' WHERE area = 'communication'")
