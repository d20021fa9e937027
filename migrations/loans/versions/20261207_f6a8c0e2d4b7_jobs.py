"""long operations are jobs a worker carries out: matching runs of the bank's loans

Revision ID: f6a8c0e2d4b7
Revises: d2b4f6a8c0e3
Create Date: 2026-12-07 05:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "f6a8c0e2d4b7"
down_revision: Union[str, Sequence[str], None] = "d2b4f6a8c0e3"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.create_jobs_20261207()


def downgrade() -> None:
    plumbing.drop_jobs_20261207()
