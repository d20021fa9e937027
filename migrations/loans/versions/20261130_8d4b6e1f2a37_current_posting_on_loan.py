"""current posting on the loan

Revision ID: 8d4b6e1f2a37
Revises: 5f3c2a7e9b14
Create Date: 2026-11-30 17:10:00

A bank loan keeps its current posting (id, outcome, sender, time) on its own row; the history
(`bank_loan_versions`) keeps only the postings that are not current: figures a newer posting
replaced, and stale postings. Each loan's newest applied history row moves onto the loan here.
Posting ids still come from the history's sequence, so a loan's postings keep their ids and
their order.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "8d4b6e1f2a37"
down_revision: Union[str, Sequence[str], None] = "5f3c2a7e9b14"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

APPLIED = "('created', 'updated')"
COLUMNS = ("posting_outcome", "posted_by", "posted_at")
# A loan without any applied posting cannot be made by the service; should one exist, its
# current posting gets a fresh id after every other posting's.
FRESH_ID = {
    "postgresql": "nextval('bank_loan_versions_id_seq')",
    "sqlite": "(SELECT coalesce(max(id), 0) FROM bank_loan_versions) + bank_loans.id",
}


def upgrade() -> None:
    with op.batch_alter_table("bank_loans") as batch:
        batch.add_column(sa.Column("posting_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("posting_outcome", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("posted_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE bank_loans SET posting_id = (SELECT max(v.id) FROM bank_loan_versions v"
        f" WHERE v.bank_loan_id = bank_loans.id AND v.outcome IN {APPLIED})"
    )
    op.execute(
        "UPDATE bank_loans SET "
        + ", ".join(
            f"{column} = (SELECT v.{column.removeprefix('posting_')} FROM bank_loan_versions v"
            " WHERE v.id = bank_loans.posting_id)"
            for column in COLUMNS
        )
        + " WHERE posting_id IS NOT NULL"
    )
    op.execute(
        f"UPDATE bank_loans SET posting_id = {FRESH_ID[op.get_bind().dialect.name]},"
        " posting_outcome = 'created', posted_by = 'migration', posted_at = updated_at"
        " WHERE posting_id IS NULL"
    )
    op.execute("DELETE FROM bank_loan_versions WHERE id IN (SELECT posting_id FROM bank_loans)")
    with op.batch_alter_table("bank_loans") as batch:
        for column in ("posting_id", *COLUMNS):
            batch.alter_column(column, nullable=False)


def downgrade() -> None:
    op.execute(
        "INSERT INTO bank_loan_versions (id, bank_loan_id, outcome, borrower_national_id,"
        " borrower_name, programme, principal, disbursed_on, maturity_on,"
        " annual_interest_rate_bp, outstanding_principal, overdue_amount, status, as_of,"
        " posted_by, posted_at)"
        " SELECT posting_id, id, posting_outcome, borrower_national_id, borrower_name,"
        " programme, principal, disbursed_on, maturity_on, annual_interest_rate_bp,"
        " outstanding_principal, overdue_amount, status, as_of, posted_by, posted_at"
        " FROM bank_loans"
    )
    with op.batch_alter_table("bank_loans") as batch:
        for column in ("posted_at", "posted_by", "posting_outcome", "posting_id"):
            batch.drop_column(column)
