"""a retried request gets the first answer's Location too

Revision ID: c9d1f3a5b7e0
Revises: f6a8c0e2d4b7
Create Date: 2026-12-07 06:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "c9d1f3a5b7e0"
down_revision: Union[str, Sequence[str], None] = "f6a8c0e2d4b7"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.add_idempotent_locations_20261207()


def downgrade() -> None:
    plumbing.drop_idempotent_locations_20261207()
