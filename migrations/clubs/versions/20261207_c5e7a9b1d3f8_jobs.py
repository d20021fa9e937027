"""long operations are jobs a worker carries out: big member imports

Revision ID: c5e7a9b1d3f8
Revises: b8c0e2f4a6d9
Create Date: 2026-12-07 05:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "c5e7a9b1d3f8"
down_revision: Union[str, Sequence[str], None] = "b8c0e2f4a6d9"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.create_jobs_20261207()
    # The subject and the input came with the clubs' first jobs (sealed here: a member list
    # being imported, until its job ends).
    plumbing.add_job_subjects_and_inputs_20261207()


def downgrade() -> None:
    plumbing.drop_jobs_20261207()
