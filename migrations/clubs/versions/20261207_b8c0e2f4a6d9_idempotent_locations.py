"""a retried request gets the first answer's Location too

Revision ID: b8c0e2f4a6d9
Revises: c1a3e5f7b9d2
Create Date: 2026-12-07 06:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "b8c0e2f4a6d9"
down_revision: Union[str, Sequence[str], None] = "c1a3e5f7b9d2"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.add_idempotent_locations_20261207()


def downgrade() -> None:
    plumbing.drop_idempotent_locations_20261207()
