"""a job may concern one object and carry an input until it ends

Revision ID: b4d6f8a0c2e7
Revises: f2a4c6e8b0d3
Create Date: 2026-12-07 09:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "b4d6f8a0c2e7"
down_revision: Union[str, Sequence[str], None] = "f2a4c6e8b0d3"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("subject", sa.String(length=80), nullable=True))
    op.add_column("jobs", sa.Column("input", sa.Text(), nullable=True))
    op.create_index("ix_jobs_subject", "jobs", ["subject"])


def downgrade() -> None:
    op.drop_index("ix_jobs_subject", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("input")
        batch.drop_column("subject")
