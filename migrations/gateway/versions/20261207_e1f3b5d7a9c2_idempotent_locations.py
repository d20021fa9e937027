"""a retried request gets the first answer's Location too

Revision ID: e1f3b5d7a9c2
Revises: e5f7a9b1c3d6
Create Date: 2026-12-07 06:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "e1f3b5d7a9c2"
down_revision: Union[str, Sequence[str], None] = "e5f7a9b1c3d6"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.add_idempotent_locations_20261207()


def downgrade() -> None:
    plumbing.drop_idempotent_locations_20261207()
