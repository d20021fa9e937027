"""access log: who read which members' personal data

Revision ID: c5e8a1f3b742
Revises: 7d507ebde2eb
Create Date: 2026-12-06 08:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from migrations import plumbing

revision: str = "c5e8a1f3b742"
down_revision: Union[str, Sequence[str], None] = "7d507ebde2eb"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("client", sa.String(length=100), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("service", sa.String(length=20), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_index("ix_access_log_principal_at", "access_log", ["principal", "at"])
    plumbing.create_access_log_members_20261206()


def downgrade() -> None:
    op.drop_table("access_log_members")
    op.drop_table("access_log")
