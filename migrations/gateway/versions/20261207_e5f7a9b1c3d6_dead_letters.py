"""events that keep failing are put aside as dead letters, to be replayed by an admin

Revision ID: e5f7a9b1c3d6
Revises: 577e99c64db3
Create Date: 2026-12-07 02:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "e5f7a9b1c3d6"
down_revision: Union[str, Sequence[str], None] = "577e99c64db3"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.create_dead_letters_20261207()


def downgrade() -> None:
    plumbing.drop_dead_letters_20261207()
