"""a bank loan posted by mistake can be retracted (kept, out of every figure) and reinstated

Revision ID: a9c3e7f1b468
Revises: f4d8b2a6e035
Create Date: 2026-12-06 15:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "a9c3e7f1b468"
down_revision: Union[str, Sequence[str], None] = "f4d8b2a6e035"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("bank_loans") as batch:
        batch.add_column(sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "bank_loan_retractions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_loan_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("retracted_by", sa.String(length=200), nullable=False),
        sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reinstated_by", sa.String(length=200), nullable=True),
        sa.Column("reinstated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_loan_retractions")),
    )
    op.create_index(
        "ix_bank_loan_retractions_bank_loan_id",
        "bank_loan_retractions",
        ["bank_loan_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_bank_loan_retractions_bank_loan_id", table_name="bank_loan_retractions")
    op.drop_table("bank_loan_retractions")
    with op.batch_alter_table("bank_loans") as batch:
        batch.drop_column("retracted_at")
