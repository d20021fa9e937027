"""long operations are jobs a worker carries out: reconciliation runs

Revision ID: a7b9d1f3e5c8
Revises: e3c5a7b9d1f4
Create Date: 2026-12-07 05:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "a7b9d1f3e5c8"
down_revision: Union[str, Sequence[str], None] = "e3c5a7b9d1f4"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.create_jobs_20261207()


def downgrade() -> None:
    plumbing.drop_jobs_20261207()
