"""bank loans stored while matching was unavailable wait in bank_matching_due for the retry worker

Revision ID: f4d8b2a6e035
Revises: d2b6f0e4c813
Create Date: 2026-12-06 12:45:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "f4d8b2a6e035"
down_revision: Union[str, Sequence[str], None] = "d2b6f0e4c813"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "bank_matching_due",
        sa.Column("loan_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_bank_matching_due")),
    )
    op.create_index(
        "ix_bank_matching_due_due_at", "bank_matching_due", ["due_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_bank_matching_due_due_at", table_name="bank_matching_due")
    op.drop_table("bank_matching_due")
