"""events that keep failing are put aside as dead letters, to be replayed by an admin

Revision ID: d4e6f8a0b2c5
Revises: a9c3e7f1b468
Create Date: 2026-12-07 02:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "d4e6f8a0b2c5"
down_revision: Union[str, Sequence[str], None] = "a9c3e7f1b468"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.create_dead_letters_20261207()


def downgrade() -> None:
    plumbing.drop_dead_letters_20261207()
