"""cover portfolio queries

Revision ID: b7d1e5a9c3f2
Revises: 6ca642266ea6
Create Date: 2026-11-23 13:00:00

Covering indexes (PostgreSQL `INCLUDE`) so that an area's portfolio is read from indexes alone:
the loans and matched bank loans of a province, and each loan's cumulative totals due and paid
by a date. SQLite ignores `INCLUDE`; it gets the same keys.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "b7d1e5a9c3f2"
down_revision: Union[str, Sequence[str], None] = "6ca642266ea6"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CUMULATIVE = ["cumulative_principal", "cumulative_interest"]
BANK_PORTFOLIO = [
    "id",
    "member_id",
    "club_id",
    "as_of",
    "disbursed_on",
    "status",
    "outstanding_principal",
    "overdue_amount",
]
LOAN_PORTFOLIO = [
    "id",
    "club_id",
    "member_id",
    "status",
    "disbursed_on",
    "written_off_on",
    "principal",
]
MATCHED = sa.text("province_code IS NOT NULL")


def _instalments_and_repayments(include: list[str] | None) -> None:
    extra = {"postgresql_include": include} if include else {}
    op.drop_index("ix_loan_instalments_loan_id_due_on", table_name="loan_instalments")
    op.create_index(
        "ix_loan_instalments_loan_id_due_on", "loan_instalments", ["loan_id", "due_on"], **extra
    )
    op.drop_index("ix_loan_repayments_loan_id_paid_on", table_name="loan_repayments")
    op.create_index(
        "ix_loan_repayments_loan_id_paid_on",
        "loan_repayments",
        ["loan_id", "paid_on", "id"],
        **extra,
    )


def _bank_area(include: list[str] | None) -> None:
    extra = {"postgresql_include": include} if include else {}
    op.drop_index("ix_bank_loans_province_code_commune_code", table_name="bank_loans")
    op.create_index(
        "ix_bank_loans_province_code_commune_code",
        "bank_loans",
        ["province_code", "commune_code"],
        postgresql_where=MATCHED,
        sqlite_where=MATCHED,
        **extra,
    )


def upgrade() -> None:
    _instalments_and_repayments(CUMULATIVE)
    _bank_area(BANK_PORTFOLIO)
    op.create_index(
        "ix_loans_portfolio",
        "loans",
        ["province_code", "commune_code"],
        postgresql_include=LOAN_PORTFOLIO,
    )


def downgrade() -> None:
    op.drop_index("ix_loans_portfolio", table_name="loans")
    _bank_area(None)
    _instalments_and_repayments(None)
