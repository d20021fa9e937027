"""a job may concern one object and carry an input until it ends

Revision ID: b4d6f8a0c2e7
Revises: f2a4c6e8b0d3
Create Date: 2026-12-07 09:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "b4d6f8a0c2e7"
down_revision: Union[str, Sequence[str], None] = "f2a4c6e8b0d3"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.add_job_subjects_and_inputs_20261207()


def downgrade() -> None:
    plumbing.drop_job_subjects_and_inputs_20261207()
