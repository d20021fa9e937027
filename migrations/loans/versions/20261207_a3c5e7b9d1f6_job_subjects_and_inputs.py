"""a job may concern one object and carry an input until it ends

Revision ID: a3c5e7b9d1f6
Revises: c9d1f3a5b7e0
Create Date: 2026-12-07 09:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "a3c5e7b9d1f6"
down_revision: Union[str, Sequence[str], None] = "c9d1f3a5b7e0"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.add_job_subjects_and_inputs_20261207()


def downgrade() -> None:
    plumbing.drop_job_subjects_and_inputs_20261207()
