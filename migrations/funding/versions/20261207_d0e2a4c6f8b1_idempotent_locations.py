"""a retried request gets the first answer's Location too

Revision ID: d0e2a4c6f8b1
Revises: a7b9d1f3e5c8
Create Date: 2026-12-07 06:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "d0e2a4c6f8b1"
down_revision: Union[str, Sequence[str], None] = "a7b9d1f3e5c8"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.add_idempotent_locations_20261207()


def downgrade() -> None:
    plumbing.drop_idempotent_locations_20261207()
